using BenchmarkDotNet.Running;
using Segmentation.Benchmarks.EndToEnd;

if (args is ["e2e", .. var loadArguments])
{
    return await EndToEndLoad.Run(loadArguments);
}

BenchmarkSwitcher.FromAssembly(typeof(EndToEndLoad).Assembly).Run(args);
return 0;
