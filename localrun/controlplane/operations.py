"""SageMaker's hosting operations: models, endpoint configs and endpoints."""

from __future__ import annotations

import time

from .deployment import CONFIG, ENDPOINT, MODEL, Hosting
from .hosting import local_path
from .protocol import Request, page, sort, validation
from .registry import Registry

LIVE = ("Creating", "Updating", "RollingBack", "InService", "SystemUpdating")


class HostingApi:
    def __init__(self, hosting: Hosting, registry: Registry):
        self.hosting, self.store, self.registry = hosting, hosting.store, registry

    def handlers(self) -> dict:
        return {
            "CreateModel": self.create_model, "DescribeModel": self.describe_model, "DeleteModel": self.delete_model,
            "ListModels": self.list_models,
            "CreateEndpointConfig": self.create_config, "DescribeEndpointConfig": self.describe_config,
            "DeleteEndpointConfig": self.delete_config, "ListEndpointConfigs": self.list_configs,
            "CreateEndpoint": self.create_endpoint, "UpdateEndpoint": self.update_endpoint,
            "DescribeEndpoint": self.describe_endpoint, "ListEndpoints": self.list_endpoints,
            "DeleteEndpoint": self.delete_endpoint,
        }

    # models ------------------------------------------------------------------------------------
    def create_model(self, request: Request) -> dict:
        params = request.params
        name = params["ModelName"]
        containers = ([params["PrimaryContainer"]] if params.get("PrimaryContainer") else []) + params.get("Containers", [])
        if len(containers) != 1:
            raise validation("the local control plane hosts models with exactly one container (PrimaryContainer)")
        container = dict(containers[0])
        if container.get("ModelPackageName"):  # a registered package: its first container's image and data
            package = self.registry.package(container["ModelPackageName"])
            source = package["InferenceSpecification"]["Containers"][0]
            container.setdefault("Image", source.get("Image"))
            container.setdefault("ModelDataUrl", source.get("ModelDataUrl"))
        if not container.get("ModelDataUrl"):
            raise validation(f"model {name}: ModelDataUrl is required locally (a file:// URL or a path)")
        if self.store.get(MODEL, name):
            raise validation(f'Cannot create already existing model "{request.arn("model/" + name.lower())}".')
        sha = self.hosting.artifacts.add(container["ModelDataUrl"])
        body = {"ModelName": name, "ModelArn": request.arn(f"model/{name.lower()}"), "PrimaryContainer": container,
                "ExecutionRoleArn": params.get("ExecutionRoleArn"), "CreationTime": time.time(),
                "EnableNetworkIsolation": params.get("EnableNetworkIsolation", False),
                "VpcConfig": params.get("VpcConfig"), "_ArtifactSha256": sha, "_Source": str(local_path(container["ModelDataUrl"]))}
        if not self.store.insert(MODEL, name, body):
            raise validation(f'Cannot create already existing model "{body["ModelArn"]}".')
        return {"ModelArn": body["ModelArn"]}

    def _model(self, request: Request) -> dict:
        body = self.store.get(MODEL, request.params["ModelName"])
        if body is None:
            raise validation(f'Could not find model "{request.arn("model/" + request.params["ModelName"].lower())}".')
        return body

    def describe_model(self, request: Request) -> dict:
        return self._model(request)

    def delete_model(self, request: Request) -> dict:
        self.store.delete(MODEL, self._model(request)["ModelName"])
        return {}

    def list_models(self, request: Request) -> dict:
        models = [m for m in self.store.all(MODEL) if (request.params.get("NameContains") or "") in m["ModelName"]]
        models = sort(models, request.params, {"Name": "ModelName", "CreationTime": "CreationTime"}, "CreationTime",
                      "Descending")
        chunk, token = page(models, request.params)
        return {"Models": [{k: m[k] for k in ("ModelName", "ModelArn", "CreationTime")} for m in chunk],
                "NextToken": token}

    # endpoint configs --------------------------------------------------------------------------
    def create_config(self, request: Request) -> dict:
        params = request.params
        name = params["EndpointConfigName"]
        arn = request.arn(f"endpoint-config/{name.lower()}")
        names = [v["VariantName"] for v in params["ProductionVariants"]]
        if len(set(names)) != len(names):
            raise validation(f"endpoint config {name}: variant names must be unique, got {names}")
        for variant in params["ProductionVariants"]:
            if self.store.get(MODEL, variant["ModelName"]) is None:
                raise validation(f'Could not find model "{request.arn("model/" + variant["ModelName"].lower())}".')
        capture = params.get("DataCaptureConfig")
        if capture and capture.get("EnableCapture", True):
            local_path(capture["DestinationS3Uri"])  # refuses s3:// with a message
        body = {"EndpointConfigName": name, "EndpointConfigArn": arn, "CreationTime": time.time(),
                "ProductionVariants": params["ProductionVariants"], "DataCaptureConfig": capture,
                "KmsKeyId": params.get("KmsKeyId"), "Tags": params.get("Tags")}
        if not self.store.insert(CONFIG, name, body):
            raise validation(f'Cannot create already existing endpoint configuration "{arn}".')
        return {"EndpointConfigArn": arn}

    def _config(self, request: Request, name: str) -> dict:
        body = self.store.get(CONFIG, name)
        if body is None:
            raise validation(f'Could not find endpoint configuration "{request.arn("endpoint-config/" + name.lower())}".')
        return body

    def describe_config(self, request: Request) -> dict:
        return self._config(request, request.params["EndpointConfigName"])

    def delete_config(self, request: Request) -> dict:
        self.store.delete(CONFIG, self._config(request, request.params["EndpointConfigName"])["EndpointConfigName"])
        return {}

    def list_configs(self, request: Request) -> dict:
        configs = [c for c in self.store.all(CONFIG) if (request.params.get("NameContains") or "") in c["EndpointConfigName"]]
        configs = sort(configs, request.params, {"Name": "EndpointConfigName", "CreationTime": "CreationTime"},
                       "CreationTime", "Descending")
        chunk, token = page(configs, request.params)
        return {"EndpointConfigs": [{k: c[k] for k in ("EndpointConfigName", "EndpointConfigArn", "CreationTime")}
                                    for c in chunk], "NextToken": token}

    # endpoints ---------------------------------------------------------------------------------
    def create_endpoint(self, request: Request) -> dict:
        name, config_name = request.params["EndpointName"], request.params["EndpointConfigName"]
        config = self._config(request, config_name)
        arn = request.arn(f"endpoint/{name.lower()}")
        now = time.time()
        body = {"EndpointName": name, "EndpointArn": arn, "EndpointConfigName": config_name,
                "EndpointStatus": "Creating", "CreationTime": now, "LastModifiedTime": now, "_Port": 0}
        if not self.store.insert(ENDPOINT, name, body):
            raise validation(f'Cannot create already existing endpoint "{arn}".')
        self.hosting.cancelled.discard(name)
        port = self.hosting.open(name, 0, config.get("DataCaptureConfig"))
        self.hosting.set_endpoint(name, _Port=port)
        self.hosting.background(self.hosting.bring_up, name, config_name)
        return {"EndpointArn": arn}

    def _endpoint(self, request: Request) -> dict:
        name = request.params["EndpointName"]
        body = self.store.get(ENDPOINT, name)
        if body is None:
            raise validation(f'Could not find endpoint "{request.arn("endpoint/" + name.lower())}".')
        return body

    def update_endpoint(self, request: Request) -> dict:
        params = request.params
        body = self._endpoint(request)
        self._config(request, params["EndpointConfigName"])
        if params.get("RetainAllVariantProperties") or params.get("ExcludeRetainedVariantProperties"):
            raise validation("RetainAllVariantProperties is not supported locally")
        claimed = {}

        def claim(current: dict) -> dict:  # one update at a time, decided inside the transaction
            claimed["status"] = current["EndpointStatus"]
            if current["EndpointStatus"] == "InService":
                current.update(EndpointStatus="Updating", _PendingConfig=params["EndpointConfigName"],
                               LastDeploymentConfig=params.get("DeploymentConfig"), LastModifiedTime=time.time())
            return current

        self.store.update(ENDPOINT, body["EndpointName"], claim)
        if claimed.get("status") != "InService":
            raise validation(f'Cannot update in-progress endpoint "{body["EndpointArn"]}" '
                             f'(status {claimed.get("status")}).')
        self.hosting.background(self.hosting.update, body["EndpointName"], params["EndpointConfigName"],
                                params.get("DeploymentConfig") or {})
        return {"EndpointArn": body["EndpointArn"]}

    def describe_endpoint(self, request: Request) -> dict:
        body = self._endpoint(request)
        config = self.store.get(CONFIG, body["EndpointConfigName"]) or {}
        variants = []
        for spec in config.get("ProductionVariants", []):
            weight = float(spec.get("InitialVariantWeight", 1.0))
            count = int(spec.get("InitialInstanceCount") or 1)
            model = self.store.get(MODEL, spec["ModelName"]) or {}
            image = (model.get("PrimaryContainer") or {}).get("Image")
            variants.append({"VariantName": spec["VariantName"], "CurrentWeight": weight, "DesiredWeight": weight,
                             "CurrentInstanceCount": count, "DesiredInstanceCount": count,
                             "DeployedImages": [{"SpecifiedImage": image, "ResolvedImage": image}] if image else None})
        capture = self.hosting.runtimes.get(body["EndpointName"])
        answer = dict(body, ProductionVariants=variants or None,
                      DataCaptureConfig=capture.capture.summary() if capture else None)
        if body.get("_PendingConfig"):
            answer["PendingDeploymentSummary"] = {"EndpointConfigName": body["_PendingConfig"],
                                                  "StartTime": body["LastModifiedTime"]}
        return answer

    def list_endpoints(self, request: Request) -> dict:
        params = request.params
        endpoints = [e for e in self.store.all(ENDPOINT)
                     if (params.get("NameContains") or "") in e["EndpointName"]
                     and params.get("StatusEquals") in (None, e["EndpointStatus"])]
        endpoints = sort(endpoints, params, {"Name": "EndpointName", "CreationTime": "CreationTime"},
                         "CreationTime", "Descending")
        chunk, token = page(endpoints, params, default_size=10)
        keys = ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")
        return {"Endpoints": [{k: e[k] for k in keys} for e in chunk], "NextToken": token}

    def delete_endpoint(self, request: Request) -> dict:
        """Stops the hosts at once (SageMaker says Deleting for a while); the config and models stay."""
        body = self._endpoint(request)
        self.hosting.tear_down(body["EndpointName"])
        self.store.delete(ENDPOINT, body["EndpointName"])
        return {}
