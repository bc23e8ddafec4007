"""Checks of docker-compose.yml that need no Docker engine; ha/validate.sh runs them.

    compose_check.py schema COMPOSE_FILE SCHEMA_FILE   validate against the Compose JSON schema
    compose_check.py files COMPOSE_FILE                check every file it references exists
    compose_check.py env COMPOSE_FILE SERVICE          print its environment, NUL-separated

The file is read as Docker Compose reads it: YAML merge keys resolved, duplicate keys refused,
and ${VAR}, ${VAR:-default}, ${VAR-default} and $$ interpolated from the environment.
Needs python3-yaml and python3-jsonschema. Exit status 1 and a message per problem on failure.
"""

import glob
import os
import re
import sys

import yaml

INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?-)(?P<default>[^}]*))?\})"
)


class ComposeLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys, as Compose does."""


def _mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


ComposeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def interpolate(value):
    """Replaces ${…} in every string of value, like Compose."""
    if isinstance(value, dict):
        return {key: interpolate(item) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match):
        if match.group("escaped"):
            return "$"
        current = os.environ.get(match.group("name"))
        op = match.group("op")
        if op == ":-" and not current:
            return match.group("default")
        if op == "-" and current is None:
            return match.group("default")
        return current or ""

    return INTERPOLATION.sub(replace, value)


def load(path):
    with open(path, encoding="utf-8") as file:
        return interpolate(yaml.load(file, Loader=ComposeLoader))


def check_schema(compose_path, schema_path):
    import json

    import jsonschema

    with open(schema_path, encoding="utf-8") as file:
        schema = json.load(file)
    # The spec names draft-07 as "https://json-schema.org/draft-07/schema", a spelling
    # jsonschema does not recognise (it would fall back to the latest draft).
    drafts = {
        "draft-07": jsonschema.Draft7Validator,
        "2019-09": jsonschema.Draft201909Validator,
        "2020-12": jsonschema.Draft202012Validator,
    }
    declared = schema.get("$schema", "")
    matching = [validator for draft, validator in drafts.items() if draft in declared]
    validator_class = matching[0] if matching else jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(
        validator_class(schema).iter_errors(load(compose_path)),
        key=lambda error: list(error.absolute_path),
    )
    for error in errors:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        print(f"{where}: {error.message}")
    return not errors


def dockerfile_sources(dockerfile, context):
    """The local sources of COPY/ADD instructions (not --from=, not URLs)."""
    text = open(dockerfile, encoding="utf-8").read().replace("\\\n", " ")
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3 or words[0].upper() not in ("COPY", "ADD"):
            continue
        if any(word.startswith("--from=") for word in words):
            continue
        for source in [word for word in words[1:-1] if not word.startswith("--")]:
            if "://" not in source:
                yield source, os.path.join(context, source)


def check_files(compose_path):
    base = os.path.dirname(os.path.abspath(compose_path))
    compose = load(compose_path)
    problems = []

    def need(what, path, pattern=False):
        exists = glob.glob(path) if pattern else os.path.exists(path)
        if not exists:
            problems.append(f"{what}: {os.path.relpath(path, base)} does not exist")
        return bool(exists)

    for name, service in (compose.get("services") or {}).items():
        build = service.get("build")
        if isinstance(build, str):
            build = {"context": build}
        if build:
            context = os.path.join(base, build.get("context", "."))
            if need(f"{name}: build context", context) and "dockerfile_inline" not in build:
                dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
                if need(f"{name}: dockerfile", dockerfile):
                    for source, path in dockerfile_sources(dockerfile, context):
                        need(f"{os.path.relpath(dockerfile, base)} copies {source}", path, True)
        env_files = service.get("env_file") or []
        for entry in [env_files] if isinstance(env_files, str) else env_files:
            if isinstance(entry, dict):
                if entry.get("required", True):
                    need(f"{name}: env_file", os.path.join(base, entry["path"]))
            else:
                need(f"{name}: env_file", os.path.join(base, entry))
        for volume in service.get("volumes") or []:
            if isinstance(volume, dict):
                source = volume.get("source") if volume.get("type") == "bind" else None
            else:
                source = volume.split(":", 1)[0] if ":" in volume else None
                if source and not source.startswith((".", "/", "~")):
                    source = None  # a named volume
            if source:
                need(f"{name}: bind mount", os.path.join(base, os.path.expanduser(source)))
        extends = service.get("extends")
        if isinstance(extends, dict) and "file" in extends:
            need(f"{name}: extends", os.path.join(base, extends["file"]))
    for kind in ("secrets", "configs"):
        for name, item in (compose.get(kind) or {}).items():
            if isinstance(item, dict) and "file" in item:
                need(f"{kind} {name}", os.path.join(base, item["file"]))
    for problem in dict.fromkeys(problems):  # several services may share one Dockerfile
        print(problem)
    return not problems


def print_env(compose_path, service_name):
    environment = load(compose_path)["services"][service_name].get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    for key, value in environment.items():
        sys.stdout.write(f"{key}={'' if value is None else value}\0")
    return True


def main(argv):
    commands = {"schema": (check_schema, 2), "files": (check_files, 1), "env": (print_env, 2)}
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        sys.stderr.write(__doc__)
        return 2
    function, _ = commands[argv[1]]
    try:
        return 0 if function(*argv[2:]) else 1
    except (OSError, yaml.YAMLError, KeyError) as error:
        sys.stderr.write(f"{type(error).__name__}: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
