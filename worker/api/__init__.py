"""`invoicer api`: the read API (docs/contract.md, "Read API") over the worker's database."""
