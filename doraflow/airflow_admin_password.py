"""Set the Airflow admin's password from AIRFLOW_ADMIN_PASSWORD (docker-compose.yml's airflow-init runs this).

Airflow's simple auth manager keeps its users' passwords in the JSON file named by
AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE and generates one (printed once in the api-server's log) for
each user the file lacks. With AIRFLOW_ADMIN_PASSWORD set, this writes it for user `admin` (mode 0600; other
users' entries are kept), so the password is the operator's and survives container rebuilds; unset, the file is
left alone and the generated password stays where Airflow put it. The password is never printed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ADMIN_USER = "admin"
PASSWORD_ENV = "AIRFLOW_ADMIN_PASSWORD"
FILE_ENV = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"


def set_admin_password(environ: dict[str, str] | os._Environ = os.environ) -> str:
    """Write the admin password into the passwords file when one is configured; returns one line saying what
    happened (without the password)."""
    password = environ.get(PASSWORD_ENV, "")
    target = environ.get(FILE_ENV, "")
    if not target:
        raise SystemExit(f"{FILE_ENV} is not set: it names the file the api-server reads the passwords from")
    path = Path(target)
    if not password:
        return (
            f"{PASSWORD_ENV} is not set: the api-server generates the password of user '{ADMIN_USER}' at its "
            f"first start, prints it in its log and keeps it in {path}"
        )
    passwords: dict[str, str] = {}
    if path.is_file() and path.read_text(encoding="utf-8").strip():
        try:
            passwords = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise SystemExit(f"{path} is not valid JSON: remove it and rerun airflow-init") from None
    passwords[ADMIN_USER] = password
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(passwords) + "\n")
    os.replace(temporary, path)
    return f"password of user '{ADMIN_USER}' set from {PASSWORD_ENV} in {path}"


if __name__ == "__main__":
    print(set_admin_password(), file=sys.stdout)
