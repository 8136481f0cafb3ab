namespace Segmentation.Rules.Language;

/// <summary>Static type of an expression. <see cref="Any"/> is an event property inside a <c>where</c> filter: untyped JSON.</summary>
public enum ExprType { Bool, Number, String, Timestamp, Duration, Any }

/// <summary>A declared attribute type; <see cref="EnumValues"/> is set for <c>{ enum: [...] }</c> (a string restricted to those values).</summary>
public sealed record AttributeType(ExprType Type, IReadOnlyList<string>? EnumValues = null)
{
    public override string ToString() => EnumValues is null ? Type.ToString().ToLowerInvariant() : $"enum [{string.Join(", ", EnumValues)}]";
}
