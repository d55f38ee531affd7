"""The headers a dead letter carries besides the original record's (docs/contract.md)."""

REASON = "x-dead-letter-reason"
ERROR = "x-dead-letter-error"
ORIGINAL_TOPIC = "x-original-topic"
ORIGINAL_PARTITION = "x-original-partition"
ORIGINAL_OFFSET = "x-original-offset"

HEADERS = (REASON, ERROR, ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET)
