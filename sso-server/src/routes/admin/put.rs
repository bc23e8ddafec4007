//! Admin writes that are not kills: group memberships.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{Admin, AdminError};
use crate::admin::{self, API_ACTOR};
use crate::domain::Username;
use crate::state::AppState;
use crate::users::{GroupChange, GroupName};

/// The body of `PUT /admin/users/{username}/groups`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupsBody {
    groups: Vec<String>,
}

fn group_set(names: &[String]) -> Result<BTreeSet<GroupName>, AdminError> {
    names
        .iter()
        .map(|name| GroupName::parse(name))
        .collect::<Result<_, _>>()
        .map_err(|_| AdminError::BadRequest("invalid group name"))
}

fn one_group(name: &str) -> Result<BTreeSet<GroupName>, AdminError> {
    group_set(&[name.to_owned()])
}

/// Applies `change` to `username` and answers with the user's groups afterwards.
pub(super) async fn apply(
    state: &AppState,
    username: &str,
    change: GroupChange,
) -> Result<HttpResponse, AdminError> {
    let username = Username::parse(username).map_err(|_| AdminError::NotFound)?;
    let (user, groups) = admin::change_groups(state, API_ACTOR, &username, &change)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(HttpResponse::Ok().json(json!({ "username": user.username, "groups": groups })))
}

/// `PUT /admin/users/{username}/groups` with `{"groups": [...]}`: exactly these groups.
pub async fn groups(
    _: Admin,
    username: web::Path<String>,
    body: web::Json<GroupsBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let change = GroupChange::Set(group_set(&body.groups)?);
    apply(&state, &username, change).await
}

/// `PUT /admin/users/{username}/groups/{group}`: adds one group.
pub async fn group(
    _: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (username, group) = path.into_inner();
    apply(&state, &username, GroupChange::Add(one_group(&group)?)).await
}

/// `DELETE /admin/users/{username}/groups/{group}`: removes one group.
pub async fn remove_group(
    _: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (username, group) = path.into_inner();
    apply(&state, &username, GroupChange::Remove(one_group(&group)?)).await
}
