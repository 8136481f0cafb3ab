using BenchmarkDotNet.Running;
using Segmentation.Benchmarks.EndToEnd;
using Segmentation.Benchmarks.HotCustomer;
using Segmentation.Benchmarks.Million;
using Segmentation.Benchmarks.Simulation;

if (args is ["e2e", .. var loadArguments])
{
    return await EndToEndLoad.Run(loadArguments);
}

if (args is ["hot-customer", .. var hotCustomerArguments])
{
    return await HotCustomerLoad.Run(hotCustomerArguments);
}

if (args is ["million", .. var millionArguments])
{
    return await MillionCustomersLoad.Run(millionArguments);
}

if (args is ["simulation", .. var simulationArguments])
{
    return await SimulationBenchmark.Run(simulationArguments);
}

BenchmarkSwitcher.FromAssembly(typeof(EndToEndLoad).Assembly).Run(args);
return 0;
