ALTER TABLE `tasks` ADD `http` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `callback` text;