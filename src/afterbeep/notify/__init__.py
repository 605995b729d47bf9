"""Notifications: e-mail, SMS and webhooks, delivered from the store's durable outbox."""
