//! The words of the pages, in English and Simplified Chinese.

use crate::domain::Language;

/// Every user-visible text of the HTML pages.
#[derive(Debug)]
pub struct Texts {
    pub product: &'static str,
    pub sign_in: &'static str,
    pub continue_to: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub invalid_credentials: &'static str,
    pub account_disabled: &'static str,
    pub too_many_attempts: &'static str,
    pub form_expired: &'static str,
    pub signed_in_title: &'static str,
    pub signed_in: &'static str,
    pub sign_out: &'static str,
    pub sign_out_confirm: &'static str,
    pub signed_out_title: &'static str,
    pub signed_out: &'static str,
    pub error_title: &'static str,
    pub unknown_client: &'static str,
    pub bad_redirect_uri: &'static str,
    pub bad_post_logout_redirect_uri: &'static str,
    pub bad_request: &'static str,
    pub not_found: &'static str,
    pub method_not_allowed: &'static str,
    pub request_too_large: &'static str,
    pub request_timeout: &'static str,
    pub internal_error: &'static str,
    pub unavailable_title: &'static str,
    pub try_again_shortly: &'static str,
}

const ENGLISH: Texts = Texts {
    product: "Single sign-on",
    sign_in: "Sign in",
    continue_to: "to continue to",
    username: "Username",
    password: "Password",
    invalid_credentials: "The username or password is not correct.",
    account_disabled: "This account is disabled. Please contact your administrator.",
    too_many_attempts: "Too many sign-in attempts. Please wait a few minutes and try again.",
    form_expired: "This form has expired. Please enter your details again.",
    signed_in_title: "Signed in",
    signed_in: "You are signed in. You can return to the application you came from.",
    sign_out: "Sign out",
    sign_out_confirm: "Do you want to sign out of all applications?",
    signed_out_title: "Signed out",
    signed_out: "You have been signed out of all applications.",
    error_title: "Something went wrong",
    unknown_client: "The application that sent you here is not registered.",
    bad_redirect_uri: "The application asked to return to an address that is not registered for it.",
    bad_post_logout_redirect_uri: "The address to return to after signing out is not registered for this application.",
    bad_request: "The request is not valid.",
    not_found: "This page does not exist.",
    method_not_allowed: "This page cannot be used that way.",
    request_too_large: "The request is too large.",
    request_timeout: "The request took too long to arrive. Please try again.",
    internal_error: "An internal error occurred. Please try again later.",
    unavailable_title: "Temporarily unavailable",
    try_again_shortly: "Signing in is briefly unavailable. Please try again in a few moments.",
};

const SIMPLIFIED_CHINESE: Texts = Texts {
    product: "统一登录",
    sign_in: "登录",
    continue_to: "以继续使用",
    username: "用户名",
    password: "密码",
    invalid_credentials: "用户名或密码不正确。",
    account_disabled: "此账户已被停用，请联系管理员。",
    too_many_attempts: "登录尝试次数过多，请稍等几分钟后再试。",
    form_expired: "表单已过期，请重新填写。",
    signed_in_title: "已登录",
    signed_in: "您已登录，可以返回之前的应用。",
    sign_out: "退出登录",
    sign_out_confirm: "确定要退出所有应用吗？",
    signed_out_title: "已退出",
    signed_out: "您已退出所有应用。",
    error_title: "出错了",
    unknown_client: "将您引导至此的应用未注册。",
    bad_redirect_uri: "该应用请求返回的地址未登记。",
    bad_post_logout_redirect_uri: "退出后返回的地址未为该应用登记。",
    bad_request: "请求无效。",
    not_found: "页面不存在。",
    method_not_allowed: "此页面不支持该请求方式。",
    request_too_large: "请求过大。",
    request_timeout: "请求传输超时，请重试。",
    internal_error: "发生内部错误，请稍后再试。",
    unavailable_title: "暂时无法使用",
    try_again_shortly: "登录暂时无法使用，请稍后再试。",
};

/// The texts of `language`.
pub fn texts(language: Language) -> &'static Texts {
    match language {
        Language::English => &ENGLISH,
        Language::SimplifiedChinese => &SIMPLIFIED_CHINESE,
    }
}
