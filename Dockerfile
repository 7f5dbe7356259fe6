# The doraflow image for docker-compose.yml: Airflow 3 with the project and its runtime dependencies, built once
# (`docker compose build`), resolved against constraints.txt. No test or lint tools (requirements-dev.txt).
FROM apache/airflow:3.3.2-python3.11

# Folders the compose file mounts volumes on, owned by the airflow user (uid 50000, gid 0) so that a new named
# volume starts with that owner and the tasks can write the warehouse; /opt/airflow/auth keeps the admin
# password file of the simple auth manager (/opt/airflow/logs is the base image's, made sure of here).
USER root
RUN mkdir -p /opt/doraflow/warehouse /opt/airflow/auth /opt/airflow/logs \
    && chown -R 50000:0 /opt/doraflow /opt/airflow/auth /opt/airflow/logs \
    && chmod 0770 /opt/doraflow/warehouse /opt/airflow/auth
USER 50000

WORKDIR /opt/doraflow
# Dependencies first: this layer is rebuilt only when the pins change.
COPY --chown=50000:0 requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt

# The project. Editable, so doraflow finds dbt_project/ and the DAGs beside its package at /opt/doraflow.
COPY --chown=50000:0 pyproject.toml README.md ./
COPY --chown=50000:0 doraflow ./doraflow
COPY --chown=50000:0 extractors ./extractors
COPY --chown=50000:0 simulator ./simulator
COPY --chown=50000:0 dags ./dags
COPY --chown=50000:0 dbt_project ./dbt_project
RUN pip install --no-cache-dir --no-deps -e .
