"""Real parts for Iceberg outputs: moto's S3 server on loopback, pyiceberg's SQL catalog on PostgreSQL.

`iceberg_deployment` writes floe's `deployment` bindings for them into artifacts, as floe's
compiler writes them for a platform whose catalog is SQL and whose storage is S3-compatible.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto.server import ThreadedMotoServer
from pyiceberg.catalog import Catalog, load_catalog

from tests.conftest import free_port

BUCKET = "floe-warehouse"
ACCESS_KEY_ENV, SECRET_KEY_ENV = "FLOE_TEST_S3_ACCESS_KEY", "FLOE_TEST_S3_SECRET_KEY"
CATALOG_URI_ENV = "FLOE_TEST_ICEBERG_CATALOG_URI"
CREDENTIALS = {ACCESS_KEY_ENV: "testing", SECRET_KEY_ENV: "testing"}
REGION = "us-east-1"


@contextmanager
def object_store() -> Iterator[str]:
    """moto's server mode on a free loopback port, the warehouse bucket created."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


def sql_catalog_uri(postgres_url: str) -> str:
    """pyiceberg's SQL catalog URI (SQLAlchemy, psycopg2) for a PostgreSQL database URL."""
    return postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)


def iceberg_deployment(s3_endpoint: str) -> dict[str, Any]:
    """floe's `deployment` bindings for a SQL catalog and an S3-compatible store.

    The catalog's URI comes by reference (env var `CATALOG_URI_ENV`), as a database URL with
    a user name in it would count as an inline credential.
    """
    return {
        "storage": {
            "provider": "s3",
            "endpoint": {
                "internal_url": s3_endpoint,
                "external_url": s3_endpoint,
                "region": REGION,
                "warehouse_path": f"s3://{BUCKET}/customer_360",
                "path_style_access": True,
            },
            "warehouse": {
                "uri": f"s3://{BUCKET}/customer_360",
                "bucket": BUCKET,
                "prefix": "customer_360",
            },
            "credentials": {
                "mode": "environment",
                "env_refs": {"access_key_id": ACCESS_KEY_ENV, "secret_access_key": SECRET_KEY_ENV},
            },
            "runtime": {
                "pyiceberg_properties": {"type": "sql"},
                "env_refs": {"catalog_uri": CATALOG_URI_ENV},
            },
            "dbt": {"profile_name": "customer_360", "target_name": "dev", "schema_name": "main"},
            "dagster": {"resource_key": "s3", "asset_io_manager_key": "io_manager"},
        },
        "catalog": {"provider": "sql"},
    }


def open_catalog(catalog_uri: str, s3_endpoint: str) -> Catalog:
    """The catalog as a reader outside the run sees it."""
    return load_catalog(
        "iceberg",
        type="sql",
        uri=catalog_uri,
        warehouse=f"s3://{BUCKET}/customer_360",
        **{
            "s3.endpoint": s3_endpoint,
            "s3.region": REGION,
            "s3.access-key-id": "testing",
            "s3.secret-access-key": "testing",
            "s3.force-virtual-addressing": "false",
        },
    )
