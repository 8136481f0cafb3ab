using System.CommandLine;
using Segmentation.Rules.Conflicts;
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
            if (SegctlCommand.LoadRuleset(file, output) is not { } ruleset)
            {
                return 1;
            }

            // Groups with on_conflict: reject refuse a ruleset in which two of their segments can catch the same customer.
            var rejected = ruleset.Groups.Values.Any(g => g.OnConflict == ConflictPolicy.Reject) ? ConflictAnalyzer.Analyze(ruleset).RejectedConflicts : [];
            foreach (var conflict in rejected)
            {
                output.WriteLine($"{file}: group {conflict.Group} has on_conflict: reject, but {string.Join(" and ", conflict.Segments)} conflict: {conflict.Description}");
            }

            if (rejected.Count > 0)
            {
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
