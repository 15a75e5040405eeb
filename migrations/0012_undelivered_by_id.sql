DROP INDEX `tasks_undelivered`;--> statement-breakpoint
CREATE INDEX `tasks_undelivered` ON `tasks` (`created_at`,`id`) WHERE version = 0;