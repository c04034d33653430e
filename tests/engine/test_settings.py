"""Settings: embedded defaults, switching by variable, errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.settings import ConfigError, load_settings


def test_defaults_are_the_embedded_mode(isolated_env: Path) -> None:
    s = load_settings()
    assert s.is_sqlite and s.embedded
    assert s.database_url == "sqlite+aiosqlite:///./var/solai.db"
    assert [p.name for p in s.rpc_providers] == ["simulator"]
    assert s.anthropic_api_key is None and s.telegram_token is None


def test_variables_switch_to_postgres_and_redis(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOLAI_DATABASE_URL", "postgresql://solai:pw@db:5432/solai")
    monkeypatch.setenv("SOLAI_REDIS_URL", "redis://redis:6379/0")
    s = load_settings()
    assert s.database_url == "postgresql+asyncpg://solai:pw@db:5432/solai"
    assert not s.is_sqlite and not s.embedded


def test_dotenv_file_is_read(isolated_env: Path) -> None:
    (isolated_env / ".env").write_text("SOLAI_API_PORT=8123\n")
    assert load_settings().api_port == 8123


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("SOLAI_DATABASE_URL", "not a url", "SOLAI_DATABASE_URL: not a database URL"),
        ("SOLAI_DATABASE_URL", "mysql://x@y/z", "SOLAI_DATABASE_URL: unsupported database"),
        ("SOLAI_DATABASE_URL", "postgresql://x@y", "must name the database"),
        ("SOLAI_REDIS_URL", "http://localhost:6379", "SOLAI_REDIS_URL: must start with redis://"),
        ("SOLAI_REDIS_URL", "redis://host:notaport/0", "SOLAI_REDIS_URL: has a bad port"),
        ("SOLAI_RPC_PROVIDERS", "[{", "SOLAI_RPC_PROVIDERS: must be JSON"),
        ("SOLAI_RPC_PROVIDERS", "[]", "SOLAI_RPC_PROVIDERS: needs at least one provider"),
        ("SOLAI_API_PORT", "70000", "SOLAI_API_PORT"),
    ],
)
def test_bad_values_name_the_variable(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, var: str, value: str, message: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_settings()


def test_provider_list_parses_in_priority_order(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "SOLAI_RPC_PROVIDERS",
        '[{"name":"a","http_url":"https://a.example","ws_url":"wss://a.example"},'
        '{"name":"b","http_url":"http://b:8899","ws_url":"ws://b:8900","requests_per_s":5}]',
    )
    s = load_settings()
    assert [(p.name, p.requests_per_s) for p in s.rpc_providers] == [("a", 50.0), ("b", 5.0)]


def test_provider_with_wrong_scheme_is_refused(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "SOLAI_RPC_PROVIDERS", '[{"name":"a","http_url":"ws://a","ws_url":"ws://a"}]'
    )
    with pytest.raises(ConfigError, match="http_url must be an http"):
        load_settings()


def test_production_refuses_placeholder_secret(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOLAI_ENV", "production")
    with pytest.raises(ConfigError, match="SOLAI_SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("SOLAI_SECRET_KEY", "a-real-long-random-secret-value")
    assert load_settings().env == "production"


def test_secrets_are_not_printed(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOLAI_TELEGRAM_TOKEN", "123:super-secret-token")
    s = load_settings()
    assert "super-secret" not in repr(s) and "super-secret" not in str(s.model_dump())


def test_env_example_documents_every_setting() -> None:
    from engine.settings import Settings

    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    documented = {
        line.lstrip("# ").split("=", 1)[0]
        for line in text.splitlines()
        if line.lstrip("# ").startswith("SOLAI_") and "=" in line
    }
    expected = {f"SOLAI_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set(), "undocumented in .env.example"
    assert documented - expected == set(), "documented but not a setting"
