namespace Segmentation.Rules.Language;

/// <summary>
/// Bounds on what a ruleset may contain, so that loading, type checking, compiling, evaluating and analysing any accepted
/// ruleset stays within the stack and time of one request. Chosen with a margin: a ruleset at every limit is loaded,
/// compiled, evaluated, explained and analysed on a 512 KB stack, a third of a .NET thread's default on Linux (RuleLimitsTests),
/// and no hand-written rule comes near them.
/// </summary>
public static class RuleLimits
{
    /// <summary>Tokens in one condition (names, literals, operators, brackets).</summary>
    public const int MaxExpressionTokens = 2_000;

    /// <summary>
    /// Levels of the condition's tree: brackets, <c>not</c>, unary minus, and each operator of an arithmetic chain count one;
    /// a chain of <c>and</c> or <c>or</c> counts the logarithm of its length.
    /// </summary>
    public const int MaxExpressionDepth = 32;

    /// <summary>Levels of nested YAML mappings and sequences in a ruleset file (a ruleset needs four).</summary>
    public const int MaxYamlDepth = 32;
}
