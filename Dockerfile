# One image for web, worker and beat (target `app`), a smaller one for the enclave signer (target `signer`),
# and the development chain (target `chain`). Contracts are compiled in the build, never committed.

FROM node:20-bookworm-slim AS chain
WORKDIR /srv
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error
COPY scripts/compile-contracts.mjs scripts/
COPY contracts contracts
RUN node scripts/compile-contracts.mjs
EXPOSE 8545
CMD ["node_modules/.bin/anvil", "--host", "0.0.0.0", "--port", "8545", "--chain-id", "31337", "--state", "/data/state.json"]

FROM python:3.11-slim-bookworm AS signer
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /srv
COPY enclave_signer/requirements.txt enclave_signer/requirements-dstack.txt enclave_signer/
RUN pip install --no-cache-dir -r enclave_signer/requirements-dstack.txt
COPY enclave_signer enclave_signer
RUN useradd --system --home /srv signer && mkdir -p /data && chown signer /data
USER signer
ENV SIGNER_BIND=0.0.0.0:8600 SIGNER_DATA_DIR=/data
EXPOSE 8600
CMD ["python", "-m", "enclave_signer", "serve"]

FROM python:3.11-slim-bookworm AS app
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 DJANGO_DEBUG=false
WORKDIR /srv
COPY requirements.txt requirements.txt
COPY enclave_signer/requirements.txt enclave_signer/requirements-dstack.txt enclave_signer/
RUN pip install --no-cache-dir -r requirements.txt
COPY --from=chain /srv/build build
COPY --from=chain /srv/node_modules/@uniswap node_modules/@uniswap
COPY --from=chain /srv/node_modules/htmx.org node_modules/htmx.org
COPY . .
RUN DJANGO_SECRET_KEY=build python manage.py collectstatic --no-input -v 0 \
    && useradd --system --home /srv app && mkdir -p /srv/var/chain && chown -R app /srv/var
USER app
EXPOSE 8000
CMD ["gunicorn", "launchpad.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "8", "--access-logfile", "-"]
