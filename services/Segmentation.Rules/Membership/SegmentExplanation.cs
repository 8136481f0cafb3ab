using System.Text;

namespace Segmentation.Rules.Membership;

/// <summary>One sub-expression of a condition, its source text and its value at the explained instant.</summary>
public sealed record ExplainedExpression(string Expression, string Value, IReadOnlyList<ExplainedExpression> Parts);

public sealed record SegmentExplanation(string Segment, string? Group, bool ConditionHolds, string Outcome, ExplainedExpression Condition)
{
    /// <summary>Readable form: the outcome, then each sub-expression indented under its parent with its value.</summary>
    public string Render()
    {
        var text = new StringBuilder();
        text.Append(Segment).Append(Group is null ? string.Empty : $" [{Group}]").Append(": ").AppendLine(Outcome);
        Append(text, Condition, 1);
        return text.ToString();
    }

    private static void Append(StringBuilder text, ExplainedExpression node, int depth)
    {
        text.Append(' ', depth * 2).Append(node.Expression).Append("  =>  ").AppendLine(node.Value);
        foreach (var part in node.Parts)
        {
            Append(text, part, depth + 1);
        }
    }
}
