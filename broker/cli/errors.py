"""What the CLI says when a command fails for a reason the person running it can fix.

`explain(error, settings)` turns the errors of a wrong setting (password, host, port, vhost, file,
database, permissions) into one or two lines naming the cause and the fix; the CLI prints them and
exits non-zero, with the traceback only under `--debug`. None means a bug: the traceback is shown.
A password is never part of a line; hosts, ports, users and vhosts are.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from broker.settings import Settings, SettingsError
from broker.transport.errors import BrokerMistake, classify, reply_text

EXIT_SETTING = 2
"""Exit code of a failure the person can fix in the settings or arguments."""


def _where(settings: Settings) -> tuple[str, str, str]:
    """(user, host:port, vhost) of the first broker address."""
    parts = urlsplit(settings.amqp_urls[0])
    user = unquote(parts.username or "guest")
    return user, f"{parts.hostname}:{parts.port or 5672}", settings.vhost


def explain(error: BaseException, settings: Settings) -> str | None:
    user, host, vhost = _where(settings)
    text = reply_text(error)
    mistake = classify(error)
    if mistake is BrokerMistake.PARTICIPANT_REFUSED:  # the client library, as a participant's own user
        if "vhost" in text:
            return (
                f"error: the broker at {host} has no vhost {vhost!r}, or the participant may not use it\n"
                "fix: check the vhost at the end of RB_AMQP_URL (`/` is %2F)"
            )
        return (
            f"error: {text}\n"
            "fix: use the password of the participant's own credentials entry (--credentials FILE, "
            "RB_CREDENTIALS or RB_PASSWORD)"
        )
    if mistake is BrokerMistake.LOGIN_REFUSED:
        return (
            f"error: the broker at {host} refused the login of user {user!r} (wrong user name or password)\n"
            "fix: check the user and password in RB_AMQP_URL (a participant: its credentials file or "
            "RB_PASSWORD)"
        )
    if mistake is BrokerMistake.NO_VHOST:
        return (
            f"error: the broker at {host} has no vhost {vhost!r}, or user {user!r} may not use it\n"
            "fix: check the vhost at the end of RB_AMQP_URL (`/` is %2F) and the user's permissions"
        )
    if mistake is BrokerMistake.ACCESS_REFUSED:
        return (
            f"error: user {user!r} may not do this here: {text}\n"
            "fix: tail, quarantine and dead-letter list take the operator's user (referral-operator, made by "
            "`provision`); declare and provision the administrator; replay and refeed the router's user"
        )
    if mistake is BrokerMistake.NOT_FOUND:
        return (
            f"error: the broker at {host} (vhost {vhost!r}) lacks what this needs: {text}\n"
            "fix: run `referral-broker declare` (or `provision`) on this vhost first"
        )
    if mistake is BrokerMistake.UNREACHABLE:
        return (
            f"error: cannot reach the broker at {host} ({type(error).__name__})\n"
            "fix: start RabbitMQ there, or set RB_AMQP_URL to the broker's address"
        )
    return _local(error, settings)


def _local(error: BaseException, settings: Settings) -> str | None:
    from broker.credentials import CredentialsError
    from broker.domain.address import AddressError
    from broker.participants import ParticipantsError
    from broker.store.tracker.existing import TrackerDatabaseError
    from broker.transport.management import ManagementError
    from broker.transport.quarantine import OperatorError
    from broker.transport.topology import ShardingUnavailable, TopologyMismatch

    if isinstance(error, ManagementError):
        reason = reply_text(error)
        if "401" in reason:
            return (
                f"error: RabbitMQ's HTTP API refused the administrator's login ({settings.api_url})\n"
                "fix: RB_AMQP_URL must name an administrator and its password for provision"
            )
        return (
            f"error: RabbitMQ's HTTP API failed: {reason}\n"
            f"fix: check RB_MANAGEMENT_URL (now {settings.api_url}) and that the management plugin is on"
        )
    if isinstance(error, IsADirectoryError):
        return f"error: {error.filename} is a directory, not a file\nfix: name a file"
    if isinstance(error, FileNotFoundError):
        return f"error: {error.filename}: no such file\nfix: check the path (relative to where you run it)"
    if isinstance(error, PermissionError):
        return f"error: {error.filename}: permission denied\nfix: check the file's owner and mode"
    if isinstance(error, ParticipantsError | AddressError | CredentialsError):
        return f"error: {error}"
    if isinstance(
        error, TrackerDatabaseError | OperatorError | TopologyMismatch | ShardingUnavailable | SettingsError
    ):
        return f"error: {error}"
    return _database(error)


def _database(error: BaseException) -> str | None:
    from broker.store.errors import DatabaseMistake, classify

    found = classify(error)
    if found is None:
        return None
    mistake, reason = found
    if mistake is DatabaseMistake.BAD_URL:
        return (
            f"error: not a usable database URL ({reason})\n"
            "fix: check RB_DATABASE_URL / RB_TRACKER_DATABASE_URL, e.g. sqlite:///referral-broker.sqlite3"
        )
    return (
        f"error: cannot open the database: {reason}\n"
        "fix: check RB_DATABASE_URL / RB_TRACKER_DATABASE_URL (the folder must exist, the server run)"
    )
