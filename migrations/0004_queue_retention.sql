ALTER TABLE `queues` ADD `retention_ms` integer;--> statement-breakpoint
CREATE INDEX `tasks_queue_finished` ON `tasks` (`queue`,`finished_at`);