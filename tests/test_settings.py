"""Settings: defaults, under a TOML file, under STAMPBOX_* variables; bad values refused."""

from pathlib import Path

import pytest

from appliance.settings import SettingsError, load_settings


def test_defaults_need_no_configuration():
    s = load_settings(environ={})
    assert s.data_dir == Path("./var") and s.stamp_cooldown_minutes == 30
    assert s.resolved_database_url == "sqlite:///var/stampbox.db"


def test_environment_overrides_the_file_which_overrides_defaults(tmp_path):
    conf = tmp_path / "stampbox.toml"
    conf.write_text('stamp_cooldown_minutes = 10\ndata_dir = "/srv/box"\ndev_mode = true\n')
    env = {"STAMPBOX_CONFIG": str(conf), "STAMPBOX_STAMP_COOLDOWN_MINUTES": "5"}
    s = load_settings(environ=env)
    assert s.stamp_cooldown_minutes == 5
    assert s.data_dir == Path("/srv/box") and s.dev_mode is True


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"STAMPBOX_STAMP_COOLDOWN_MINUTES": "soon"}, "STAMPBOX_STAMP_COOLDOWN_MINUTES"),
        ({"STAMPBOX_STAMP_COOLDOWN_MINUTES": "-1"}, "outside"),
        ({"STAMPBOX_DEV_MODE": "maybe"}, "STAMPBOX_DEV_MODE"),
        ({"STAMPBOX_CONFIG": "/nonexistent/stampbox.toml"}, "cannot read"),
        ({"STAMPBOX_SMTP_SECURITY": "ssl"}, "not one of none, starttls, tls"),
    ],
)
def test_bad_values_are_refused_with_the_setting_named(env, needle):
    with pytest.raises(SettingsError, match=needle):
        load_settings(environ=env)


def test_unknown_keys_in_the_file_are_refused(tmp_path):
    conf = tmp_path / "s.toml"
    conf.write_text("stamp_cooldown = 3\n")
    with pytest.raises(SettingsError, match="unknown setting 'stamp_cooldown'"):
        load_settings(environ={"STAMPBOX_CONFIG": str(conf)})


def test_a_database_password_is_hidden_when_settings_are_printed():
    s = load_settings(environ={"STAMPBOX_DATABASE_URL": "postgresql://shop:s3cret@db/stampbox"})
    assert "s3cret" not in str(s.describe())
    assert s.describe()["database_url"] == "postgresql://***@db/stampbox"


def test_secrets_are_hidden_when_settings_are_printed():
    s = load_settings(environ={"STAMPBOX_SMTP_PASSWORD": "pw1", "STAMPBOX_SMS_TOKEN": "tok2"})
    shown = s.describe()
    assert shown["smtp_password"] == shown["sms_token"] == "***"
    assert "pw1" not in str(shown) and "tok2" not in str(shown)
