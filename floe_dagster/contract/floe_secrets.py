"""The "no secret material" rules floe applies to the free-form parts of its artifacts.

floe's compiler refuses to write credential values into `compiled_artifacts.json`; a file
that carries one is invalid under floe's model, and so it is here. The rules, as facts about
the format:

- runtime, dbt and Dagster fragments, catalog properties and similar maps: no key that names
  a credential (password, secret, token, credential, access/private key, bearer), no string
  value that looks like one (contains password, token, bearer, a private-key or secret-value
  marker, or a default admin login such as `minioadmin`), and no URL carrying a user/password
  or credential-looking query/fragment parameters;
- plugin `config` maps: no key that, ignoring case and punctuation, is a credential field
  name (password, token, api key, client secret, ...);
- dbt profiles: credential keys are allowed only when their value is a dbt
  `{{ env_var('NAME') }}` reference (or a plain http(s) endpoint URL);
- dlt filesystem maps: a `credentials` object may hold only endpoint/region/URL-style settings.

Every message names the offending path and never the value.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import SecretStr

# Substrings of a key (lower-cased) that make it a credential field in a fragment.
FRAGMENT_KEY_WORDS = (
    "access-key",
    "access_key",
    "accesskey",
    "bearer",
    "credential",
    "password",
    "private-key",
    "private_key",
    "privatekey",
    "secret",
    "token",
)
# Substrings of a string value (lower-cased) that make it look like a credential.
VALUE_WORDS = (
    "bearer",
    "password",
    "private-key",
    "private_key",
    "privatekey",
    "raw-secret-value",
    "secret-value",
    "token",
)
# Plugin config keys, lower-cased with everything but letters and digits removed.
PLUGIN_CONFIG_CREDENTIAL_KEYS = frozenset(
    {
        "accesskey",
        "apikey",
        "apitoken",
        "bearertoken",
        "clientsecret",
        "clienttoken",
        "password",
        "privatekey",
        "refreshtoken",
        "secret",
        "secretaccesskey",
        "secretkey",
        "token",
    }
)
# URL query/fragment parameter names (letters and digits only) that carry credentials.
URL_CREDENTIAL_PARAMS = frozenset(
    {
        "accesskey",
        "accesstoken",
        "apikey",
        "clientsecret",
        "credential",
        "credentials",
        "password",
        "secret",
        "signature",
        "token",
    }
)
# A word ending in "admin" (optionally followed by digits): a default login like `minioadmin`.
DEFAULT_ADMIN_LOGIN = re.compile(r"(?<![a-z0-9])[a-z0-9_-]*admin[0-9]*(?![a-z0-9])")
DBT_ENV_VAR_REF = re.compile(
    r"\{\{\s*env_var\(\s*['\"][A-Za-z_][A-Za-z0-9_]*['\"]"
    r"(?:\s*,\s*['\"][^'\"]*['\"])?\s*\)\s*\}\}"
)
DLT_CREDENTIALS_ALLOWED_KEYS = frozenset({"endpoint_url", "region_name", "s3_url_style"})
SOURCE_PATH_CREDENTIAL_WORDS = (
    "credential",
    "credentials",
    "access_key",
    "secret_key",
    "api_key",
    "password",
    "token",
    "signature",
    "awsaccesskeyid",
    "aws_access_key_id",
    "aws_secret_access_key",
)

_FRAGMENT_HINT = "use env_refs or CredentialRef fields instead"


def _letters_digits(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _looks_like_secret_text(text: str) -> bool:
    lowered = text.lower()
    return (
        any(word in lowered for word in VALUE_WORDS)
        or DEFAULT_ADMIN_LOGIN.search(lowered) is not None
    )


def _credential(path: str, hint: str = _FRAGMENT_HINT) -> ValueError:
    return ValueError(f"{path} looks like an inline credential; {hint}")


def check_url_parts(value: str, path: str) -> str:
    """Reject a URL with a user/password or credential-like parameters; return it without them."""
    parts = urlsplit(value)
    if parts.username or parts.password:
        raise _credential(path, "use CredentialRef fields instead")
    param_words = {_letters_digits(w) for w in (*FRAGMENT_KEY_WORDS, *URL_CREDENTIAL_PARAMS)}
    for section, text in (("query", parts.query), ("fragment", parts.fragment)):
        params = parse_qsl(text, keep_blank_values=True)
        names = {_letters_digits(name) for name, _ in params}
        if names & URL_CREDENTIAL_PARAMS or any(w in name for name in names for w in param_words):
            raise _credential(f"{path} {section}", "use CredentialRef fields instead")
        for _, param_value in params:
            check_fragment(param_value, f"{path}.{section}")
    return parts._replace(query="", fragment="").geturl()


def check_fragment(value: Any, path: str) -> None:
    """Reject credential keys and credential-looking values anywhere in a JSON fragment."""
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = f"{path}.{key}"
            if any(word in str(key).lower() for word in FRAGMENT_KEY_WORDS):
                raise _credential(child_path)
            check_fragment(child, child_path)
    elif isinstance(value, list | tuple | set | frozenset):
        for index, child in enumerate(value):
            check_fragment(child, f"{path}[{index}]")
    elif isinstance(value, str):
        parts = urlsplit(value)
        text = check_url_parts(value, path) if parts.scheme and parts.netloc else value
        if _looks_like_secret_text(text):
            raise _credential(path)
    elif isinstance(value, bytes | bytearray) or hasattr(value, "__iter__"):
        raise ValueError(
            f"{path} holds a {type(value).__name__}; only JSON values "
            "(objects, arrays, strings, numbers, booleans, null) are allowed"
        )


def check_json_compatible(value: Any, path: str) -> None:
    """Reject anything that is not plain JSON (including NaN/infinite numbers, non-string keys)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{path} holds a non-finite number; only finite JSON numbers are allowed")
    if value is None or isinstance(value, str | int | float | bool):
        return
    if isinstance(value, dict):
        for key, child in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path} has a {type(key).__name__} key; JSON keys are strings")
            check_json_compatible(child, f"{path}.{key}")
        return
    if isinstance(value, list):
        for index, child in enumerate(value):
            check_json_compatible(child, f"{path}[{index}]")
        return
    raise ValueError(f"{path} holds a {type(value).__name__}; only JSON values are allowed")


def check_dlt_filesystem(value: Any, path: str) -> None:
    """A dlt filesystem map: plain JSON, secret-free, `credentials` holding only safe settings."""
    check_json_compatible(value, path)
    if not isinstance(value, dict):
        check_fragment(value, path)
        return
    for key, child in value.items():
        if key == "credentials" and isinstance(child, dict):
            child_path = f"{path}.{key}"
            for cred_key in sorted(set(child) - DLT_CREDENTIALS_ALLOWED_KEYS)[:1]:
                check_fragment({cred_key: child[cred_key]}, child_path)
                raise ValueError(
                    f"{child_path}.{cred_key} is not an allowed dlt filesystem credentials "
                    f"setting (allowed: {', '.join(sorted(DLT_CREDENTIALS_ALLOWED_KEYS))})"
                )
            for cred_key, cred_value in child.items():
                check_fragment(cred_value, f"{child_path}.{cred_key}")
        else:
            check_fragment({key: child}, path)


def check_plugin_config(value: Any, path: str) -> None:
    """A plugin's `config`: no credential field at any depth (references by name are fine)."""
    hint = "name a secret reference (e.g. connection_secret_ref) instead"
    if isinstance(value, SecretStr):
        raise _credential(path, hint)
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = f"{path}.{key}"
            if _letters_digits(str(key)) in PLUGIN_CONFIG_CREDENTIAL_KEYS:
                raise _credential(child_path, hint)
            check_plugin_config(child, child_path)
    elif isinstance(value, list | tuple | set | frozenset):
        for index, child in enumerate(value):
            check_plugin_config(child, f"{path}[{index}]")
    elif value is None or isinstance(value, str | int | float | bool):
        return
    elif hasattr(value, "__iter__"):
        raise ValueError(f"{path} holds a {type(value).__name__}; only JSON values are allowed")


def is_dbt_env_var_ref(value: Any) -> bool:
    """Whether `value` is a dbt `{{ env_var('NAME') }}` or `{{ env_var('NAME', 'dflt') }}`."""
    return isinstance(value, str) and DBT_ENV_VAR_REF.fullmatch(value.strip()) is not None


def is_plain_endpoint_url(value: str) -> bool:
    """An http(s) URL with a host and nothing in it that could carry a credential."""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return False
    if parts.username or parts.password or parts.fragment:
        return False
    params = parse_qsl(parts.query, keep_blank_values=True)
    if {_letters_digits(name) for name, _ in params} & URL_CREDENTIAL_PARAMS:
        return False
    return not any(_looks_like_secret_text(param_value) for _, param_value in params)


def check_dbt_profiles(value: Any, path: str) -> None:
    """dbt profiles: credential fields must be `env_var()` references, never values."""
    hint = "use a dbt env_var() reference instead"
    if isinstance(value, dict):
        for key, child in value.items():
            name = str(key).lower()
            child_path = f"{path}.{key}"
            if name == "secrets" and isinstance(child, list):
                for index, entry in enumerate(child):
                    check_dbt_profiles(entry, f"{child_path}[{index}]")
                continue
            if name == "secret" and isinstance(child, str) and not _looks_like_secret_text(child):
                continue  # the name of a secret, e.g. a DuckDB secret's `secret` key
            if any(word in name for word in FRAGMENT_KEY_WORDS):
                if is_dbt_env_var_ref(child) or (
                    isinstance(child, str) and is_plain_endpoint_url(child)
                ):
                    continue
                raise _credential(child_path, hint)
            check_dbt_profiles(child, child_path)
    elif isinstance(value, list | tuple | set | frozenset):
        for index, child in enumerate(value):
            check_dbt_profiles(child, f"{path}[{index}]")
    elif is_dbt_env_var_ref(value) or (isinstance(value, str) and is_plain_endpoint_url(value)):
        return
    else:
        check_fragment(value, path)


def source_path_has_credentials(text: str) -> bool:
    """Whether a URL query or fragment of an ingestion `source_path` mentions a credential."""
    if not text:
        return False
    lowered = text.lower()
    squeezed = re.sub(r"[^a-z0-9]+", "", lowered)
    return any(
        word in lowered or re.sub(r"[^a-z0-9]+", "", word) in squeezed
        for word in SOURCE_PATH_CREDENTIAL_WORDS
    )
