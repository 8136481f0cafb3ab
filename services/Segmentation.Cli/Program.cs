using Segmentation.Cli.Commands;

return await SegctlCommand.Create().Parse(args).InvokeAsync();
