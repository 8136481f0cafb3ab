using System.CommandLine;
using Segmentation.Cli.Commands;
using Segmentation.Rules.Tests.Language;

namespace Segmentation.Rules.Tests.Cli;

/// <summary>Runs segctl in-process as a shell would, capturing what it prints and its exit code.</summary>
internal static class Segctl
{
    public static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = SegctlCommand.Create().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>A file of infra/examples, the ones the README uses.</summary>
    public static string Example(string name) => Path.Combine(RulesetLoaderTests.RepositoryRoot(), "infra", "examples", name);
}
