using Segmentation.Cli.Commands;

return SegctlCommand.Create().Parse(args).Invoke();
