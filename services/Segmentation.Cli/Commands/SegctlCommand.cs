using System.CommandLine;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Cli.Commands;

public static class SegctlCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand("segctl: validate segmentation rulesets and evaluate them over an event history");
        root.Subcommands.Add(ValidateCommand.Create());
        root.Subcommands.Add(EvaluateCommand.Create());
        root.Subcommands.Add(ConflictsCommand.Create());
        root.Subcommands.Add(PublishCommand.Create());
        root.Subcommands.Add(CustomerCommand.Create());
        root.Subcommands.Add(CustomerCommand.CreateExplain());
        root.Subcommands.Add(SimulateCommand.Create());
        return root;
    }

    internal static Option<FileInfo> RulesOption() => new("--rules")
    {
        Description = "ruleset YAML file",
        Required = true,
    };

    /// <summary>Reads and loads a ruleset; every error (I/O or FILE:LINE:COL) goes to <paramref name="problems"/>.</summary>
    internal static Ruleset? LoadRuleset(FileInfo file, TextWriter problems) =>
        TryReadFile(file, problems, out var yaml) ? LoadRuleset(yaml, file.ToString(), problems) : null;

    internal static Ruleset? LoadRuleset(string yaml, string fileName, TextWriter problems)
    {
        var loaded = RulesetLoader.Load(yaml, fileName);
        foreach (var problem in loaded.Errors)
        {
            problems.WriteLine(problem);
        }

        return loaded.Ruleset;
    }

    internal static bool TryReadFile(FileInfo file, TextWriter error, out string text)
    {
        try
        {
            text = File.ReadAllText(file.FullName);
            return true;
        }
        catch (IOException exception)
        {
            error.WriteLine($"segctl: cannot read {file}: {exception.Message}");
        }
        catch (UnauthorizedAccessException exception)
        {
            error.WriteLine($"segctl: cannot read {file}: {exception.Message}");
        }

        text = string.Empty;
        return false;
    }
}
