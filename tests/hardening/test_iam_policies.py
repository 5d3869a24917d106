"""The IAM policy documents under iam/: they parse, every S3 grant names the bucket and a prefix, and
the register and deploy roles allow exactly the SageMaker and Application Auto Scaling operations
their code calls (found by walking the code from each step's main())."""

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IAM = ROOT / "iam"
SCRIPTS = ROOT / "scripts"
STEPS = ["roles", "clean", "feature", "train", "evaluation", "drift", "register", "deploy", "serve", "pipeline"]
STAR_ALLOWED = {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"}  # AWS offers no narrower resource
API_ROLES = {"pipeline", "register", "deploy"}  # the only roles that call the SageMaker API
# Actions a role needs although its code never calls them, with the reason AWS gives.
REQUIRED_BY_AWS = {
    "deploy": {
        "sagemaker:AddTags": "CreateModel and CreateEndpoint send Tags: tag-on-create needs AddTags",
        "sagemaker:UpdateEndpointWeightsAndCapacities": "RegisterScalableTarget on a variant needs it (autoscaling prerequisites)",
    },
}
CLIENT_SERVICES = {"sagemaker": "sagemaker", "autoscaling": "application-autoscaling"}  # registry.client.Clients
IAM_PREFIX = {"sagemaker": "sagemaker", "application-autoscaling": "application-autoscaling"}


def statements(name):
    doc = json.loads((IAM / f"{name}.json").read_text())
    assert doc["Version"] == "2012-10-17"
    return doc["Statement"]


def as_list(value):
    return value if isinstance(value, list) else [value]


def actions_of(name):
    return {a for s in statements(name) for a in as_list(s["Action"])}


@pytest.mark.parametrize("name", STEPS)
def test_each_policy_parses_and_is_scoped(name):
    for statement in statements(name):
        assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
        actions, resources = as_list(statement["Action"]), as_list(statement["Resource"])
        assert all(":" in a and "*" not in a.split(":")[0] for a in actions)
        assert not any(a.endswith(":*") or a == "*" for a in actions), actions
        if "*" in resources:
            assert set(actions) <= STAR_ALLOWED, statement
        if any(a.startswith("s3:") for a in actions):
            for resource in resources:
                assert resource.startswith("arn:aws:s3:::${Bucket}"), resource
                key = resource.removeprefix("arn:aws:s3:::${Bucket}")
                assert key == "" and "Condition" in statement or key.startswith("/${Prefix}/"), resource
        if "cloudwatch:PutMetricData" in actions:
            assert statement["Condition"]["StringEquals"]["cloudwatch:namespace"].startswith("/aws/sagemaker/")
        for resource in resources:  # SageMaker resources: only the pipeline's jobs, the group, the endpoint's
            if resource.startswith("arn:aws:sagemaker:"):
                assert re.search(r":(processing-job|training-job|model|transform-job)/pipelines-\*$|/\$\{ModelPackageGroup\}(/\*)?$"
                                 r"|/\$\{EndpointName\}(-\*)?$", resource), resource


def test_only_the_api_roles_call_sagemaker_and_only_pipeline_and_deploy_pass_roles():
    for name in STEPS:
        actions = actions_of(name)
        assert bool({a for a in actions if a.startswith("sagemaker:")}) == (name in API_ROLES), name
        assert ("iam:PassRole" in actions) == (name in ("pipeline", "deploy")), name
        assert {a for a in actions if a.startswith("iam:")} <= {"iam:PassRole", "iam:CreateServiceLinkedRole"}
    for name in ("pipeline", "deploy"):
        for statement in (s for s in statements(name) if s["Action"] == "iam:PassRole"):
            assert statement["Condition"]["StringEquals"]["iam:PassedToService"] == "sagemaker.amazonaws.com"
    passed = {r for s in statements("deploy") if s["Action"] == "iam:PassRole" for r in as_list(s["Resource"])}
    assert passed == {"arn:aws:iam::${Account}:role/${RolePrefix}-serve"}  # the endpoint's role, nothing else
    pipeline_passes = {r for s in statements("pipeline") if s["Action"] == "iam:PassRole" for r in as_list(s["Resource"])}
    job_roles = [step for step in STEPS if step not in ("serve", "pipeline")]
    # and serve: the transform step's Model (CreateModel in the pipeline) runs as the endpoint's role
    assert pipeline_passes == {f"arn:aws:iam::${{Account}}:role/${{RolePrefix}}-{step}" for step in [*job_roles, "serve"]}
    linked = [s for s in statements("deploy") if s["Action"] == "iam:CreateServiceLinkedRole"]
    assert [s["Condition"]["StringEquals"]["iam:AWSServiceName"] for s in linked] == [
        "sagemaker.application-autoscaling.amazonaws.com"]


# --- what the code calls ----------------------------------------------------------------------------------
def _modules() -> dict[str, ast.Module]:
    files = {path.stem: path for path in (SCRIPTS / "registry").glob("*.py")}
    modules = {f"registry.{stem}": ast.parse(path.read_text()) for stem, path in files.items()}
    for step in ("register", "deploy"):
        modules[step] = ast.parse((SCRIPTS / f"{step}.py").read_text())
    return modules


def _imports(module_name: str, tree: ast.Module) -> dict[str, str]:
    """Local name -> 'registry.mod' (a module) or 'registry.mod.func' (a function)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: inside registry
                base = "registry" + (f".{base}" if base else "")
            if not base.startswith("registry"):
                continue
            for alias in node.names:
                names[alias.asname or alias.name] = f"{base}.{alias.name}"
    return names


def _receiver(node: ast.AST) -> str | None:
    """'sagemaker' for `sm.x` / `clients.sagemaker.x`, 'autoscaling' for `clients.autoscaling.x`."""
    if isinstance(node, ast.Name) and node.id == "sm":
        return "sagemaker"
    if isinstance(node, ast.Attribute) and node.attr in CLIENT_SERVICES:
        return node.attr
    return None


def called_operations(entry_module: str) -> set[str]:
    """IAM actions of every client method reachable from `<entry_module>.main` (calls and references)."""
    from botocore.session import get_session
    from botocore import xform_name

    session = get_session()
    operations = {}
    for service in CLIENT_SERVICES.values():
        model = session.get_service_model(service)
        operations[service] = {xform_name(op): op for op in model.operation_names}

    modules = _modules()
    functions = {f"{name}.{fn.name}": fn for name, tree in modules.items()
                 for fn in tree.body if isinstance(fn, ast.FunctionDef)}
    imports = {name: _imports(name, tree) for name, tree in modules.items()}
    found, seen, todo = set(), set(), [f"{entry_module}.main"]
    while todo:
        qualified = todo.pop()
        if qualified in seen or qualified not in functions:
            continue
        seen.add(qualified)
        module = qualified.rsplit(".", 1)[0]
        for node in ast.walk(functions[qualified]):
            if isinstance(node, ast.Attribute):
                service = _receiver(node.value)
                if service:
                    api = CLIENT_SERVICES[service]
                    assert node.attr in operations[api], f"{qualified}: {api} has no method {node.attr}"
                    found.add(f"{IAM_PREFIX[api]}:{operations[api][node.attr]}")
                elif isinstance(node.value, ast.Name) and node.value.id in imports[module]:
                    todo.append(f"{imports[module][node.value.id]}.{node.attr}")
            elif isinstance(node, ast.Name):
                todo.append(imports[module].get(node.id, f"{module}.{node.id}"))
    return found


@pytest.mark.parametrize("step", ["register", "deploy"])
def test_api_roles_allow_exactly_what_the_code_calls(step):
    called = called_operations(step)
    assert called, step
    allowed = {a for a in actions_of(step) if a.split(":")[0] in IAM_PREFIX.values()}
    assert called - allowed == set(), f"{step} calls operations its role does not allow"
    assert allowed - called == set(REQUIRED_BY_AWS.get(step, {})), f"{step}'s role allows what it never calls"


def test_the_call_walk_sees_the_calls():
    """The walk follows module functions: register creates packages, deploy creates endpoints and
    scaling, and what only the `python -m registry` command does (teardown, approval) is not reached."""
    register, deploy = called_operations("register"), called_operations("deploy")
    assert {"sagemaker:CreateModelPackageGroup", "sagemaker:CreateModelPackage"} <= register
    assert {"sagemaker:CreateEndpoint", "sagemaker:DeleteModel", "application-autoscaling:PutScalingPolicy"} <= deploy
    assert not {"sagemaker:DeleteEndpoint", "sagemaker:UpdateModelPackage",
                "application-autoscaling:DeregisterScalableTarget"} & (register | deploy)


def test_trust_policy_is_sagemaker_in_the_own_account():
    trust = json.loads((IAM / "trust-sagemaker.json").read_text())["Statement"][0]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"


def test_every_step_of_the_pipeline_has_a_role_document():
    from pipeline.spec import CLASSIFIER, TransformStep

    jobs = {step.name for step in CLASSIFIER.steps if not isinstance(step, TransformStep)}  # a transform's Model runs as serve
    assert jobs == {name for name in STEPS if name not in ("serve", "pipeline")}
