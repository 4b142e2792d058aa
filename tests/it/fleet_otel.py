"""Sends log files to an OTLP/HTTP endpoint with the OpenTelemetry Python
SDK's own exporter, as an application instrumented with it would: one
LoggerProvider per file (its resource names the stream: service.name and
log.file.path), each line one record through the stdlib logging bridge.

usage: fleet_otel.py ENDPOINT FILE...
"""

import logging
import sys

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource


def main():
    endpoint, files = sys.argv[1], sys.argv[2:]
    providers = []
    for i, path in enumerate(files):
        provider = LoggerProvider(
            resource=Resource.create(
                {"service.name": "scenarios", "log.file.path": path}
            )
        )
        provider.add_log_record_processor(
            BatchLogRecordProcessor(
                OTLPLogExporter(endpoint=endpoint, timeout=30),
                max_export_batch_size=200,
            )
        )
        logger = logging.getLogger(f"file{i}")
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        logger.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=provider))
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if line:
                    logger.info(line)
        providers.append(provider)
    for provider in providers:
        if not provider.force_flush(30000):
            sys.exit("the exporter did not flush")
        provider.shutdown()


if __name__ == "__main__":
    main()
