DROP INDEX `tasks_region_id`;--> statement-breakpoint
DROP INDEX `tasks_idempotency_key`;--> statement-breakpoint
DROP INDEX `tasks_queue_finished`;--> statement-breakpoint
CREATE INDEX `tasks_region_id` ON `tasks` (`region`,`id`) WHERE region IS NOT NULL;--> statement-breakpoint
CREATE INDEX `tasks_idempotency_key` ON `tasks` (`idempotency_key`) WHERE idempotency_key IS NOT NULL;--> statement-breakpoint
CREATE INDEX `tasks_queue_finished` ON `tasks` (`queue`,`finished_at`) WHERE finished_at IS NOT NULL;