# The production image is built in the operations work; this builds a working image already.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY worker ./worker
RUN pip install --no-cache-dir .
USER 10001
ENTRYPOINT ["invoicer"]
CMD ["run"]
