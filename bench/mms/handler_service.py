"""The MMS entry point, as AWS's framework containers write it: DefaultHandlerService + Transformer.

MMS instantiates the one class defined in this module.
"""

from sagemaker_inference.default_handler_service import DefaultHandlerService
from sagemaker_inference.transformer import Transformer

from inference_handler import CsvProbabilityHandler


class HandlerService(DefaultHandlerService):
    def __init__(self):
        super().__init__(transformer=Transformer(default_inference_handler=CsvProbabilityHandler()))
