# Clinic CRM production image: gunicorn + the app; static files served by whitenoise.
FROM node:20-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json* ./
RUN npm install --no-audit --no-fund --omit=dev

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=clinic.settings.production
# pango + a CJK font for PDF reports (WeasyPrint); without the font Chinese text vanishes.
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b fonts-noto-cjk curl \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 clinic
WORKDIR /app
COPY pyproject.toml ./
COPY clinic ./clinic
COPY benchmarks ./benchmarks
RUN pip install --no-cache-dir .
COPY . .
COPY --from=assets /app/node_modules ./node_modules
RUN python -m clinic.i18n_compile \
    && SECRET_KEY=build-only-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ \
       DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
       python manage.py collectstatic --no-input \
    && mkdir -p /app/var/exports \
    && chown -R clinic /app
USER clinic
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
CMD ["gunicorn", "clinic.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60", "--access-logfile", "-"]
