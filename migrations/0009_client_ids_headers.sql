DROP INDEX `tasks_queue_id`;--> statement-breakpoint
DROP INDEX `tasks_state_id`;--> statement-breakpoint
DROP INDEX `tasks_task_id`;--> statement-breakpoint
DROP INDEX `tasks_region_id`;--> statement-breakpoint
ALTER TABLE `tasks` ADD `headers` text;--> statement-breakpoint
CREATE INDEX `tasks_created` ON `tasks` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_queue_created` ON `tasks` (`queue`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_state_created` ON `tasks` (`state`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_task_created` ON `tasks` (`task`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_region_created` ON `tasks` (`region`,`created_at`,`id`) WHERE region IS NOT NULL;