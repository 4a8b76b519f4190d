# One image for every role: docker-compose.yml runs it as api, worker and simulator.
FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .
USER node
EXPOSE 8080
# node itself is PID 1 and receives docker's SIGTERM: relayq handles SIGTERM/SIGINT (drains,
# then exits 0). `npm run …` here would take the signal and leave relayq running without it.
# The preload starts OpenTelemetry tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set (else it does nothing).
CMD ["node", "--import", "tsx", "--import", "./shared/telemetry/preload.ts", "api/main.ts"]
