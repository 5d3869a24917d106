"""Data capture as SageMaker writes it for Model Monitor: JSON Lines under
`<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`, one record per sampled request."""

from __future__ import annotations

import base64
import json
import random
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

from .hosting import local_path

DEFAULT_CSV = ("text/csv",)
DEFAULT_JSON = ("application/json",)


class Capture:
    def __init__(self, endpoint: str, config: dict):
        self.endpoint = endpoint
        self.enabled = bool(config) and config.get("EnableCapture", True)
        self.percentage = int(config.get("InitialSamplingPercentage", 100)) if config else 0
        self.root = local_path(config["DestinationS3Uri"]) if self.enabled else None
        modes = {option["CaptureMode"] for option in (config or {}).get("CaptureOptions", [])}
        self.input = bool(modes & {"Input", "InputAndOutput"})
        self.output = bool(modes & {"Output", "InputAndOutput"})
        headers = (config or {}).get("CaptureContentTypeHeader") or {}
        self.csv_types = tuple(headers.get("CsvContentTypes") or DEFAULT_CSV)
        self.json_types = tuple(headers.get("JsonContentTypes") or DEFAULT_JSON)
        self.lock = threading.Lock()
        self.files: dict[tuple[str, str], Path] = {}

    def summary(self) -> dict | None:
        if not self.root:
            return None
        return {"EnableCapture": True, "CaptureStatus": "Started", "CurrentSamplingPercentage": self.percentage,
                "DestinationS3Uri": str(self.root)}

    def record(self, variant: str, request_type: str, request: bytes, response_type: str, response: bytes,
               inference_id: str | None = None) -> None:
        if not self.enabled or random.uniform(0, 100) >= self.percentage:
            return
        now = datetime.now(timezone.utc)
        data = {}
        if self.input:
            data["endpointInput"] = self._payload(request_type, request, "INPUT")
        if self.output:
            data["endpointOutput"] = self._payload(response_type, response, "OUTPUT")
        metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}
        if inference_id:
            metadata["inferenceId"] = inference_id
        line = json.dumps({"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}) + "\n"
        with self.lock:
            path = self._file(variant, now)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(line)

    def _payload(self, content_type: str, body: bytes, mode: str) -> dict:
        base = (content_type or "").split(";")[0].strip().lower()
        if base in self.csv_types or base in self.json_types:
            try:
                return {"observedContentType": content_type, "mode": mode, "data": body.decode("utf-8"),
                        "encoding": "CSV" if base in self.csv_types else "JSON"}
            except UnicodeDecodeError:
                pass
        return {"observedContentType": content_type, "mode": mode,
                "data": base64.b64encode(body).decode("ascii"), "encoding": "BASE64"}

    def _file(self, variant: str, now: datetime) -> Path:
        hour = now.strftime("%Y/%m/%d/%H")
        path = self.files.get((variant, hour))
        if path is None:
            folder = self.root / self.endpoint / variant / hour
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{now.strftime('%M-%S-%f')[:-3]}-{uuid.uuid4()}.jsonl"
            self.files[(variant, hour)] = path
        return path
