export { AlertBook, alertView, webhookPayload, sortAlerts, SEVERITIES, CONFIRM_GRACE_MS, ALERT_LIMITS_DEFAULT, type AlertEntry, type AlertChange, type Severity } from "./book.ts";
export { WebhookSender, checkWebhookUrl, WEBHOOK_DEFAULTS, type WebhookCounters } from "./webhook.ts";
