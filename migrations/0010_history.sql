CREATE TABLE `task_latency` (
	`minute` integer NOT NULL,
	`queue` text NOT NULL,
	`bucket` integer NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`minute`, `queue`, `bucket`)
);
--> statement-breakpoint
CREATE TABLE `task_minutes` (
	`minute` integer NOT NULL,
	`queue` text NOT NULL,
	`succeeded` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`minute`, `queue`)
);
--> statement-breakpoint
ALTER TABLE `tasks` ADD `attempt_log` text;--> statement-breakpoint
CREATE INDEX `tasks_workflow` ON `tasks` (`workflow_id`,`state`,`created_at`) WHERE workflow_id IS NOT NULL;