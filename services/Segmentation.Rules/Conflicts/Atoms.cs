namespace Segmentation.Rules.Conflicts;

/// <summary>
/// One constraint of a conjunction. Every atom other than <see cref="NullAtom"/> also says that the variables it
/// constrains are not null, because any comparison with null is false. <see cref="Text"/> describes it to a person.
/// </summary>
internal abstract record Atom(string Text);

/// <summary><c>Variable is null</c> or <c>is not null</c>.</summary>
internal sealed record NullAtom(Variable Variable, bool IsNull, string Text) : Atom(Text);

/// <summary>
/// <c>X - Y &lt;= Bound</c> (&lt; when strict) over numbers; a null side is the constant 0. Both sides are counts or both
/// are other numbers: counts are integers and are kept apart.
/// </summary>
internal sealed record NumberDifferenceAtom(Variable? X, Variable? Y, double Bound, bool Strict, string Text) : Atom(Text);

/// <summary>
/// <c>X - Y &lt;= Bound</c> over instants, in ticks (integers, so never strict). A null side is the epoch
/// (0001-01-01); <see cref="NowVariable"/> is the evaluation instant.
/// </summary>
internal sealed record TimeDifferenceAtom(Variable? X, Variable? Y, Int128 Bound, string Text) : Atom(Text);

/// <summary>The string value is (or, when not <see cref="Member"/>, is not) one of <see cref="Values"/>.</summary>
internal sealed record TextAtom(AttributeVariable Variable, IReadOnlySet<string> Values, bool Member, string Text) : Atom(Text);

internal sealed record BoolAtom(AttributeVariable Variable, bool Value, string Text) : Atom(Text);
