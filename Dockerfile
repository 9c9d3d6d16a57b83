# The app (and, with another command, the scheduler) on Debian bookworm with Python 3.11.
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libmariadb-dev pkg-config curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/mushroom
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY app ./app
COPY pages ./pages
COPY engine ./engine
COPY scheduler ./scheduler
COPY samples ./samples
COPY .streamlit ./.streamlit

RUN useradd --create-home --uid 10001 mushroom && mkdir -p /data && chown mushroom /data
USER mushroom
ENV MUSHROOM_DATA_DIR=/data PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s CMD curl -fsS http://127.0.0.1:8501/_stcore/health || exit 1
CMD ["python", "-m", "streamlit", "run", "app/main.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true"]
