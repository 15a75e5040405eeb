CREATE TABLE `idempotency_keys` (
	`key` text PRIMARY KEY NOT NULL,
	`task_id` text NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `queues` (
	`name` text PRIMARY KEY NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`task` text NOT NULL,
	`queue` text NOT NULL,
	`region` text,
	`priority` integer NOT NULL,
	`state` text NOT NULL,
	`args` text NOT NULL,
	`kwargs` text NOT NULL,
	`result` text,
	`error` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_retries` integer NOT NULL,
	`retry_delay` real NOT NULL,
	`timeout` real NOT NULL,
	`eta` integer,
	`expires_at` integer,
	`idempotency_key` text,
	`ordering_key` text,
	`parent_id` text,
	`root_id` text,
	`worker` text,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`version` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tasks_queue_id` ON `tasks` (`queue`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_state_id` ON `tasks` (`state`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_task_id` ON `tasks` (`task`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_region_id` ON `tasks` (`region`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_undelivered` ON `tasks` (`created_at`) WHERE version = 0;