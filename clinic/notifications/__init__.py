"""Notifications: message templates and the outbox every outbound message goes through."""
