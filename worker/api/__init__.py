"""`invoicer api`: the read API (CONTRACT.md v2, "Read API") over the worker's database."""
