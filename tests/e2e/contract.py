"""Checks every HTTP answer the end-to-end tests receive against the API contract
(gateway/openapi.json, the document sagad serves at /openapi.json), so the code and the
document cannot drift apart: an undocumented status, a missing field, a wrong type or an
unexpected content type fails the test that received it."""
import json
import os
import re

import jsonschema

DOC_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "gateway",
                        "openapi.json")

with open(DOC_PATH) as f:
    DOC = json.load(f)

_ROUTES = []  # (regex, template)
for template in DOC["paths"]:
    pattern = "^" + re.sub(r"\\\{[^/]+\\\}", "[^/]+", re.escape(template)) + "$"
    _ROUTES.append((re.compile(pattern), template))
# concrete paths before templated ones (/openapi.json before /{x}, ...)
_ROUTES.sort(key=lambda r: r[1].count("{"))

checked = {"responses": 0}


class ContractError(AssertionError):
    pass


def _operation(method, path):
    for rx, template in _ROUTES:
        if rx.match(path):
            op = DOC["paths"][template].get(method.lower())
            return template, op
    return None, None


def _validate(schema, instance, where):
    # The schema refers into the document (#/components/...): validate with the whole
    # document as the root, pointing at the response schema.
    root = {"$defs": {"target": schema}, "components": DOC["components"],
            "$ref": "#/$defs/target"}
    v = jsonschema.Draft202012Validator(root)
    errors = sorted(v.iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        raise ContractError("%s: response breaks the contract at %s: %s\nbody: %s"
                            % (where, "/".join(str(p) for p in e.absolute_path) or "(root)",
                               e.message, json.dumps(instance)[:800]))


def check_response(method, target, status, content_type, body_text):
    """Raises ContractError when the answer is not what the document says."""
    path = target.split("?", 1)[0]
    where = "%s %s -> %d" % (method, target[:120], status)
    template, op = _operation(method, path)
    if template is None:
        # No such route: the gateway's 404 must still be an Error document.
        if status != 404:
            raise ContractError("%s: path not in the contract" % where)
        schema = {"$ref": "#/components/schemas/Error"}
        _validate(schema, json.loads(body_text), where)
        checked["responses"] += 1
        return
    if op is None:
        if status != 405:
            raise ContractError("%s: method not in the contract (expected 405)" % where)
        _validate({"$ref": "#/components/schemas/Error"}, json.loads(body_text), where)
        checked["responses"] += 1
        return
    responses = op.get("responses", {})
    resp = responses.get(str(status)) or responses.get("%dXX" % (status // 100)) \
        or responses.get("default")
    if resp is None:
        raise ContractError("%s: status %d is not documented for %s %s (documented: %s)"
                            % (where, status, method, template, ", ".join(sorted(responses))))
    content = resp.get("content")
    if not content:
        checked["responses"] += 1
        return
    ctype = (content_type or "").split(";")[0].strip()
    media = {k.split(";")[0].strip(): v for k, v in content.items()}
    if ctype not in media:
        raise ContractError("%s: content type %r, the contract says %s"
                            % (where, ctype, ", ".join(content)))
    schema = media[ctype].get("schema")
    if schema is not None and ctype == "application/json":
        try:
            instance = json.loads(body_text)
        except ValueError:
            raise ContractError("%s: body is not JSON: %r" % (where, body_text[:200]))
        _validate(schema, instance, where)
    checked["responses"] += 1
