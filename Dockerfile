FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# collectstatic needs settings; a throwaway key is enough to hash files.
RUN SECRET_KEY=build-only-key-not-used-at-runtime-0123456789abcdef DEBUG=False \
    python manage.py collectstatic --noinput
RUN useradd --create-home claimbench && mkdir -p /srv/claimbench/media && chown -R claimbench /srv/claimbench
USER claimbench
EXPOSE 8000
CMD ["gunicorn", "workbench.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--timeout", "60", "--access-logfile", "-"]
