using System.CommandLine;
using Storefront.Simulator;

// Ctrl+C / SIGTERM cancel the token given to the action; allow time to finish the batch
// in flight and stop the bus cleanly.
var invocation = new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(15) };
return await SimulatorCommand.Build(TimeProvider.System).Parse(args).InvokeAsync(invocation);
