"""docs/: the contract reference matches the exported schema, and links point at real files."""

import re

from floe_dagster.cli import main
from floe_dagster.contract.artifacts import json_schema
from floe_dagster.contract.reference import markdown
from tests.conftest import REPO

DOCS = REPO / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


def test_contract_reference_matches_the_schema_the_code_exports():
    assert (DOCS / "contract.md").read_text() == markdown(json_schema()), (
        "docs/contract.md is out of date: run `floe-dagster schema --markdown > docs/contract.md`"
    )


def test_the_documented_command_prints_the_reference(capsys):
    assert main(["schema", "--markdown"]) == 0
    assert capsys.readouterr().out == markdown(json_schema())


def test_reference_has_a_section_for_every_object_and_a_row_for_every_field():
    schema = json_schema()
    page = markdown(schema)
    sections = dict(
        re.findall(r"^#{2,3} (\S+)\n(.*?)(?=^#{2,3} |\Z)", page, re.MULTILINE | re.DOTALL)
    )
    objects = {"compiled_artifacts.json": schema, **schema["$defs"]}
    assert set(sections) - {"Objects"} == set(objects)
    for name, obj in objects.items():
        rows = re.findall(r"^\| `(\w+)` \|", sections[name], re.MULTILINE)
        assert rows == list(obj.get("properties", {})), name


def test_reference_links_every_object_type_to_its_section():
    page = markdown(json_schema())
    anchors = {name.lower() for name in re.findall(r"^### (\S+)$", page, re.MULTILINE)}
    targets = set(re.findall(r"\]\(#(\w+)\)", page))
    assert targets and targets <= anchors


def test_relative_links_in_docs_point_at_existing_files():
    for page in [*DOCS.glob("*.md"), REPO / "README.md"]:
        for target in LINK.findall(CODE.sub("", page.read_text())):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
