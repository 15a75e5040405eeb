CREATE TABLE `schedules` (
	`id` text PRIMARY KEY NOT NULL,
	`cron` text,
	`every` real,
	`timezone` text NOT NULL,
	`task` text NOT NULL,
	`args` text NOT NULL,
	`kwargs` text NOT NULL,
	`queue` text NOT NULL,
	`region` text,
	`priority` integer NOT NULL,
	`max_retries` integer NOT NULL,
	`retry_delay` real NOT NULL,
	`timeout` real NOT NULL,
	`enabled` integer NOT NULL,
	`catch_up` text NOT NULL,
	`source` text NOT NULL,
	`anchor_at` integer NOT NULL,
	`last_slot_at` integer,
	`last_run_at` integer,
	`last_task_id` text,
	`next_run_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `schedules_due` ON `schedules` (`next_run_at`) WHERE enabled = 1;--> statement-breakpoint
CREATE INDEX `tasks_idempotency_key` ON `tasks` (`idempotency_key`);