using Superpower;
using Superpower.Parsers;
using Superpower.Tokenizers;

namespace Segmentation.Rules.Language;

public enum ExpressionToken
{
    Identifier,
    Number,
    Duration,
    Timestamp,
    String,
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    Comma,
    Dot,
    Plus,
    Minus,
    Star,
    Slash,
    Equal,
    NotEqual,
    LessOrEqual,
    Less,
    GreaterOrEqual,
    Greater,
}

internal static class ExpressionTokenizer
{
    // Order matters: timestamps and durations start with digits, so they are tried before plain numbers.
    public static Tokenizer<ExpressionToken> Instance { get; } = new TokenizerBuilder<ExpressionToken>()
        .Ignore(Span.WhiteSpace)
        .Match(Span.Regex(@"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?"), ExpressionToken.Timestamp, requireDelimiters: true)
        .Match(Span.Regex(@"\d+(\.\d+)?[dhm]"), ExpressionToken.Duration, requireDelimiters: true)
        .Match(Span.Regex(@"\d+(\.\d+)?"), ExpressionToken.Number, requireDelimiters: true)
        .Match(QuotedString.CStyle, ExpressionToken.String)
        .Match(Span.Regex("'[^']*'"), ExpressionToken.String)
        .Match(Span.Regex("[A-Za-z_][A-Za-z0-9_]*"), ExpressionToken.Identifier, requireDelimiters: true)
        .Match(Character.EqualTo('('), ExpressionToken.LeftParen)
        .Match(Character.EqualTo(')'), ExpressionToken.RightParen)
        .Match(Character.EqualTo('['), ExpressionToken.LeftBracket)
        .Match(Character.EqualTo(']'), ExpressionToken.RightBracket)
        .Match(Character.EqualTo(','), ExpressionToken.Comma)
        .Match(Character.EqualTo('.'), ExpressionToken.Dot)
        .Match(Character.EqualTo('+'), ExpressionToken.Plus)
        .Match(Character.EqualTo('-'), ExpressionToken.Minus)
        .Match(Character.EqualTo('*'), ExpressionToken.Star)
        .Match(Character.EqualTo('/'), ExpressionToken.Slash)
        .Match(Span.EqualTo("=="), ExpressionToken.Equal)
        .Match(Span.EqualTo("!="), ExpressionToken.NotEqual)
        .Match(Span.EqualTo("<="), ExpressionToken.LessOrEqual)
        .Match(Character.EqualTo('<'), ExpressionToken.Less)
        .Match(Span.EqualTo(">="), ExpressionToken.GreaterOrEqual)
        .Match(Character.EqualTo('>'), ExpressionToken.Greater)
        .Build();
}
