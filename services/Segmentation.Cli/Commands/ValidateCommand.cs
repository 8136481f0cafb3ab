using System.CommandLine;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Cli.Commands;

internal static class ValidateCommand
{
    public static Command Create()
    {
        var rules = SegctlCommand.RulesOption();
        var command = new Command("validate", "check a ruleset; prints every error as FILE:LINE:COL: message") { rules };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var file = parse.GetRequiredValue(rules);
            if (!SegctlCommand.TryReadFile(file, error, out var yaml))
            {
                return 1;
            }

            var loaded = RulesetLoader.Load(yaml, file.ToString());
            if (loaded.Ruleset is not { } ruleset)
            {
                foreach (var problem in loaded.Errors)
                {
                    output.WriteLine(problem);
                }

                return 1;
            }

            var exclusive = ruleset.Groups.Values.Count(g => g.Exclusive);
            output.WriteLine(
                $"{file}: ok, {ruleset.Segments.Count} segments, {ruleset.Groups.Count} groups ({exclusive} exclusive), " +
                $"{ruleset.Attributes.Count} attributes, {ruleset.EventTypes.Count} event types");
            return 0;
        });
        return command;
    }
}
