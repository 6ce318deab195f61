"""The committed openapi.yaml is what the app serves; every operation is documented."""

import re
from typing import Any

import pytest
import yaml

from app.config import REPO_ROOT
from app.openapi import openapi_document, render_openapi
from app.openapi_http import UNCACHED


def test_committed_openapi_matches_the_app() -> None:
    committed = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    served = yaml.safe_load(render_openapi(openapi_document()))
    if committed != served:
        # Name what drifted rather than print two whole documents.
        drifted = [
            f"{section} {name}"
            for section, old, new in (
                ("path", committed.get("paths", {}), served.get("paths", {})),
                ("schema", committed["components"]["schemas"], served["components"]["schemas"]),
            )
            for name in sorted(set(old) | set(new))
            if old.get(name) != new.get(name)
        ]
        pytest.fail(
            "openapi.yaml is stale: run `branchstats openapi` and commit the result. "
            f"Differs: {', '.join(drifted) or 'info or security'}"
        )


def test_committed_openapi_is_the_rendered_text() -> None:
    """Byte for byte: the parsed comparison above cannot see how a scalar is quoted."""
    committed = (REPO_ROOT / "openapi.yaml").read_text(encoding="utf-8")
    assert committed == render_openapi(openapi_document())


def test_a_text_a_yaml_1_2_reader_would_take_for_a_number_is_quoted() -> None:
    """A commune's code "04309" written plain is the integer 4309 under YAML 1.2."""
    texts = ["04309", "-7", "1e3", ".5", "0o17", "0x1F", ".inf", "Lục Yên", "vn2004:04309"]
    assert render_openapi({"texts": texts}).splitlines() == [
        "texts:",
        *(f"- '{t}'" for t in texts[:7]),
        "- Lục Yên",
        "- vn2004:04309",
    ]


def test_every_operation_and_parameter_is_described() -> None:
    document = openapi_document()
    described_tags = {tag["name"] for tag in document["tags"] if tag.get("description")}
    operation_ids = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            operation_ids.append(operation["operationId"])
            assert operation.get("description") or operation.get("summary"), (path, method)
            assert operation.get("tags"), (path, method)
            assert set(operation["tags"]) <= described_tags, (path, method)
            for parameter in operation.get("parameters", []):
                assert parameter.get("description") or parameter["schema"].get("description"), (
                    path,
                    method,
                    parameter["name"],
                )
    assert len(operation_ids) == len(set(operation_ids))
    assert "list_branches" in operation_ids and "get_branch_risk" in operation_ids


def test_every_response_field_is_described() -> None:
    schemas = openapi_document()["components"]["schemas"]
    undescribed = [
        f"{name}.{field}"
        for name, schema in schemas.items()
        for field, prop in (schema.get("properties") or {}).items()
        if not prop.get("description")
    ]
    assert undescribed == []


def test_errors_are_documented_as_problem_json() -> None:
    document = openapi_document()
    responses = document["paths"]["/branches"]["get"]["responses"]
    assert "application/problem+json" in responses["422"]["content"]
    assert responses["422"]["content"]["application/problem+json"]["schema"]["$ref"].endswith(
        "/Problem"
    )


def test_every_error_is_problem_json_only_and_every_operation_refuses_parameters(
    api: Any,
) -> None:
    """From an integrator's audit: `default` also said application/json (text/plain on a
    source's text), which no error is sent as; the 400 of an unknown parameter, which
    every operation answers, was not listed on writes, /health and /ready."""
    document = openapi_document()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            at = f"{method.upper()} {path}"
            for status, answer in operation["responses"].items():
                schemas = [c.get("schema", {}) for c in answer.get("content", {}).values()]
                if any(s.get("$ref", "").endswith("/Problem") for s in schemas):
                    assert set(answer["content"]) == {"application/problem+json"}, (at, status)
            assert "400" in operation["responses"], at
            if method == "get" and "{" not in path:
                refused = api.get(path, params={"no_such_parameter": "1"})
                assert refused.status_code == 400, at
                assert refused.headers["content-type"] == "application/problem+json", at


def test_every_change_documents_if_match_as_required_with_its_428() -> None:
    document = openapi_document()
    changes = [
        (f"{method.upper()} {path}", operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if method in ("patch", "delete")
    ]
    assert len(changes) >= 10
    for at, operation in changes:
        if_match = [p for p in operation.get("parameters", []) if p["name"] == "If-Match"]
        assert [p["required"] for p in if_match] == [True], at
        assert {"412", "428"} <= set(operation["responses"]), at


def test_every_link_names_an_operation_and_its_parameters() -> None:
    document = openapi_document()
    operations = {
        operation["operationId"]: operation
        for methods in document["paths"].values()
        for operation in methods.values()
    }
    links = [
        (f"{method.upper()} {path} {status} {name}", link)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        for status, response in operation["responses"].items()
        for name, link in (response.get("links") or {}).items()
    ]
    changes = {
        operation["operationId"]
        for methods in document["paths"].values()
        for method, operation in methods.items()
        if method in ("patch", "delete")
    }
    assert changes <= {link["operationId"] for _, link in links}
    for at, link in links:
        target = operations[link["operationId"]]
        accepted = {f"{p['in']}.{p['name']}" for p in target.get("parameters", [])}
        named = {n if "." in n else f"path.{n}" for n in link["parameters"]}
        assert named <= accepted, at
        # A change names what it changes and the ETag it was made against.
        assert (link["operationId"] in changes) == ("header.If-Match" in named), at


# JSON Schema 2020-12's keywords, and those OpenAPI 3.1 adds to a schema object.
SCHEMA_KEYWORDS = frozenset(
    {
        "$ref", "$defs", "$schema", "$id", "$comment", "$anchor", "$dynamicRef",
        "type", "enum", "const", "format", "title", "description", "default", "examples",
        "deprecated", "readOnly", "writeOnly",
        "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
        "maxLength", "minLength", "pattern", "contentEncoding", "contentMediaType",
        "items", "prefixItems", "contains", "maxItems", "minItems", "uniqueItems",
        "maxContains", "minContains", "unevaluatedItems",
        "properties", "patternProperties", "additionalProperties", "propertyNames",
        "required", "maxProperties", "minProperties", "dependentRequired",
        "dependentSchemas", "unevaluatedProperties",
        "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
        "discriminator", "xml", "externalDocs", "example",
    }
)  # fmt: skip
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMAS = ("items", "additionalProperties", "not", "if", "then", "else", "contains")


def _within(where: str, schema: object) -> list[tuple[str, dict[str, object]]]:
    """A schema and every schema inside it, each with where it is."""
    if not isinstance(schema, dict):
        return []  # `true`, `false`
    found: list[tuple[str, dict[str, object]]] = [(where, schema)]
    for key in _SUBSCHEMA_MAPS:
        for name, sub in (schema.get(key) or {}).items():
            found += _within(f"{where}.{key}.{name}", sub)
    for key in _SUBSCHEMA_LISTS:
        for i, sub in enumerate(schema.get(key) or []):
            found += _within(f"{where}.{key}[{i}]", sub)
    for key in _SUBSCHEMAS:
        if key in schema:
            found += _within(f"{where}.{key}", schema[key])
    return found


def _every_schema(document: dict[str, Any]) -> list[tuple[str, dict[str, object]]]:
    found = []
    for name, schema in document["components"]["schemas"].items():
        found += _within(f"components.schemas.{name}", schema)
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            at = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                found += _within(f"{at} {parameter['name']}", parameter["schema"])
            bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
            for body in bodies:
                for media, content in (body.get("content") or {}).items():
                    found += _within(f"{at} {media}", content.get("schema"))
    return found


def test_every_schema_speaks_json_schema() -> None:
    """A keyword outside JSON Schema is ignored by validators and client generators: a
    constraint written so is one they never see (pydantic wrote a day's bounds as `ge`
    and `le`: the day filters now say their years in a `pattern`)."""
    schemas = _every_schema(openapi_document())
    assert len(schemas) > 500
    unknown = sorted(
        f"{where}: {key}"
        for where, schema in schemas
        for key in schema
        if key not in SCHEMA_KEYWORDS
    )
    assert unknown == []


def test_a_day_out_of_range_is_refused_in_the_api_s_own_words(api: Any) -> None:
    for parameter, path in (("as_of", "/branches"), ("from", "/membership-counts")):
        for day in ("1899-12-31", "2101-01-01"):
            response = api.get(f"{path}?{parameter}={day}")
            assert response.status_code == 422
            (error,) = response.json()["errors"]
            assert error["field"] == f"query.{parameter}"
            assert error["message"] == "Value error, expected a day from 1900-01-01 to 2100-12-31"
        assert api.get(f"{path}?{parameter}=2100-12-31").status_code == 200


def _read_examples() -> list[tuple[str, str, str]]:
    """(path with its ids' examples, parameter, example) of every read's query example."""
    found = []
    for path, methods in openapi_document()["paths"].items():
        read = methods.get("get")
        if read is None or path == "/audit":  # the audit log needs a key
            continue
        parameters = read.get("parameters", [])
        url = path
        for parameter in parameters:
            if parameter["in"] == "path":
                example = parameter["schema"]["examples"][0]
                url = url.replace(f"{{{parameter['name']}}}", str(example))
        for parameter in parameters:
            if parameter["in"] == "query":
                for example in parameter["schema"].get("examples", []):
                    found.append((url, parameter["name"], str(example).lower()))
    return found


@pytest.mark.parametrize(("url", "name", "example"), _read_examples())
def test_every_example_of_a_read_is_answered(api: Any, url: str, name: str, example: str) -> None:
    """ "Try it out" in /docs fills in the examples: each must be a request the seed
    answers (a province example that was a district's id answered 422)."""
    response = api.get(url, params={name: example})
    assert response.status_code == 200, response.text[:300]


# Headers every answer has, or that say how it was sent rather than what it is: the
# document names the others, each a client may act on.
_GENERIC = {
    "content-encoding",
    "content-length",
    "content-type",
    "date",
    "server",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "content-security-policy",
}


def _specific(headers: Any) -> set[str]:
    return {name.lower() for name in headers} - _GENERIC


def _lower(documented: dict[str, Any]) -> set[str]:
    return {name.lower() for name in documented}


def url_parameters(operation: dict[str, Any]) -> set[str]:
    return {parameter["name"] for parameter in operation.get("parameters", [])}


def test_every_kept_read_documents_its_validators_and_its_304(api: Any) -> None:
    """What the document says a read answers with (ETag, Cache-Control, Vary, a 304 on
    If-None-Match, a list's Link, the index's), each read answers with, and no header
    beyond them that a client may act on (an integrator's audit found Link,
    Content-Disposition and Vary sent, undocumented); the reads it leaves out send no
    ETag."""
    document = openapi_document()
    for path, operations in document["paths"].items():
        read = operations.get("get")
        if read is None or path == "/audit":  # the audit log needs a key
            continue
        url = re.sub(r"\{[a-z_]+\}", "1", path)
        listed = "cursor" in url_parameters(read)
        tabled = "format" in url_parameters(read)  # a list, or a document also a table
        if listed:  # a page of one, which has a next (and so its Link)
            url += "?limit=1"
        response = api.get(url)
        assert response.status_code == 200, url
        documented = read["responses"]["200"].get("headers", {})
        if path in UNCACHED:  # no validator; their Cache-Control says no-store
            assert "etag" not in response.headers and set(documented) == {"Cache-Control"}, url
            assert response.headers["cache-control"] == "no-store", url
            continue
        assert {"ETag", "Cache-Control", "Vary"} <= set(documented), url
        # A JSON page is shown, not saved: its file name is a CSV's or NDJSON's.
        assert _specific(response.headers) == _lower(documented) - {"content-disposition"}, url
        varies_on = {name.strip() for name in response.headers["vary"].split(",")}
        assert ("Accept" in varies_on) == tabled, url
        held = {"If-None-Match": response.headers["etag"]}
        not_modified = api.get(url, headers=held)
        assert not_modified.status_code == 304, url
        assert _specific(not_modified.headers) == _lower(read["responses"]["304"]["headers"]), url
        if tabled:  # and as CSV, with the file's name
            exported = api.get(f"{url}{'&' if listed else '?'}format=csv")
            assert _specific(exported.headers) == _lower(documented), url
    assert "&id0" not in (REPO_ROOT / "openapi.yaml").read_text(encoding="utf-8")


# A schema whose examples make one record of the seed, and where that record is served.
RECORD_EXAMPLES = [
    ("MembershipCountOut", "/membership-counts"),
    ("MembershipEventOut", "/admissions"),
    ("FactOut", "/facts"),
    ("BranchOut", "/branches"),
    ("LocalityOut", "/localities"),
    ("LocalityRef", "/localities"),
    ("SourceRef", "/sources"),
]


@pytest.mark.parametrize(("schema", "path"), RECORD_EXAMPLES)
def test_a_schemas_examples_are_one_served_record(api: Any, schema: str, path: str) -> None:
    """From an integrator's audit: the examples of a figure made a count of 6,799 quoted
    by a sentence printing 216, "less_than" and "stated" that it is not; a journalist
    reading the documentation checks the figure against the quote."""
    schemas = openapi_document()["components"]["schemas"]

    def examples_of(schema: str) -> dict[str, Any]:
        properties = schemas[schema]["properties"]
        return {name: p["examples"][0] for name, p in properties.items() if "examples" in p}

    examples = examples_of(schema)
    assert "key" in examples and len(examples) >= 3
    items = api.get(path, params={"limit": 500}).json()["items"]
    [record] = [item for item in items if item["key"] == examples["key"]]
    assert {name: record[name] for name in examples} == examples
    # The documentation builds one example of the whole: its source and place too.
    properties = schemas[schema]["properties"]
    for name in ("source", "locality"):
        refs = [r["$ref"] for r in properties.get(name, {}).get("anyOf", []) if "$ref" in r]
        for ref in refs if record.get(name) is not None else []:  # an official unit's none
            assert record[name]["key"] == examples_of(ref.rsplit("/", 1)[1])["key"], name


@pytest.mark.parametrize(
    "path", ["/branches", "/localities", "/sources", "/membership-counts", "/admissions", "/facts"]
)
def test_a_lists_csv_columns_are_documented_as_sent(api: Any, path: str) -> None:
    """From an integrator's audit: a CSV was `type: string` and nothing more."""
    csv_doc = openapi_document()["paths"][path]["get"]["responses"]["200"]["content"]["text/csv"]
    documented = re.search(r"Columns: (.*?)\. Each", csv_doc["schema"]["description"])
    assert documented is not None
    header = api.get(path, params={"format": "csv", "limit": 1}).text.split("\r\n", 1)[0]
    assert header.split(",") == documented.group(1).split(", ")


def test_the_counts_by_level_are_of_the_vocabularys_levels() -> None:
    """The six levels are written once (app.schemas.localities): each class of counts by
    level, and its descriptions, follow the risk levels a branch can have."""
    from app.models.vocab import LEVELS
    from app.schemas.localities import LEVEL_WORDS, OrganizationsByLevel, RiskLevels

    schemas = openapi_document()["components"]["schemas"]
    for model in (RiskLevels, OrganizationsByLevel):
        assert set(model.model_fields) == set(LEVELS) == set(LEVEL_WORDS)
        described = schemas[model.__name__]["properties"]
        assert all(model.counting in described[level]["description"] for level in LEVELS)


def test_the_served_document_is_the_apps_with_a_validator(api: Any) -> None:
    """/openapi.json is the document openapi.yaml is checked against, tagged as every read
    is: a client generator checking for a new version gets a 304, not 40 KB again."""
    served = api.get("/openapi.json", headers={"Accept-Encoding": "identity"})
    assert served.status_code == 200
    assert served.json() == openapi_document()
    assert served.headers["cache-control"] == "public, max-age=60"
    tag = served.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]+"', tag)
    not_modified = api.get("/openapi.json", headers={"If-None-Match": f'"other", {tag}'})
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    # The gzip copy has a tag of its own, and a client holding either is current.
    gzipped = api.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["content-encoding"] == "gzip"
    assert gzipped.headers["etag"] != tag
    assert gzipped.json() == served.json()
    assert api.get("/openapi.json", headers={"If-None-Match": tag}).status_code == 304
    assert api.get("/openapi.json", headers={"If-None-Match": '"other"'}).status_code == 200
