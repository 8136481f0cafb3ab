using System.Globalization;
using Superpower;
using Superpower.Model;
using Superpower.Parsers;
using Combinators = Superpower.Parse;

namespace Segmentation.Rules.Language;

/// <summary>A problem found in one expression, located by character offset within the expression text.</summary>
public readonly record struct ExpressionError(int Offset, string Message);

public sealed record ExpressionParseResult(Expr? Expression, ExpressionError? Error);

/// <summary>Parses the rule language (see DESIGN.md "Rules") into an <see cref="Expr"/> tree.</summary>
public static class ExpressionParser
{
    public static readonly IReadOnlySet<string> Keywords = new HashSet<string>(StringComparer.Ordinal)
    {
        "and", "or", "not", "in", "is", "null", "where", "true", "false", "now",
    };

    private static readonly Dictionary<string, AggregateKind> AggregateFunctions = new(StringComparer.Ordinal)
    {
        ["count"] = AggregateKind.Count,
        ["sum"] = AggregateKind.Sum,
        ["min"] = AggregateKind.Min,
        ["max"] = AggregateKind.Max,
        ["avg"] = AggregateKind.Avg,
        ["first"] = AggregateKind.First,
        ["last"] = AggregateKind.Last,
    };

    private const string FunctionList = "count, sum, min, max, avg, first, last, days_since, hours_since";

    /// <summary>
    /// Parses one condition within <see cref="RuleLimits"/>. The token count and bracket nesting are checked before parsing
    /// (the parser recurses per level), the tree's depth after it, so no walker of an accepted tree can exhaust the stack.
    /// </summary>
    public static ExpressionParseResult Parse(string text)
    {
        var tokens = ExpressionTokenizer.Instance.TryTokenize(text);
        if (!tokens.HasValue)
        {
            return new(null, new ExpressionError(OffsetOf(tokens.ErrorPosition, text), $"syntax error: {tokens.FormatErrorMessageFragment()}"));
        }

        if (BeyondLimits(tokens.Value) is { } limitError)
        {
            return new(null, limitError);
        }

        var parsed = WholeExpression.TryParse(tokens.Value);
        if (!parsed.HasValue)
        {
            return new(null, new ExpressionError(OffsetOf(parsed.ErrorPosition, text), $"syntax error: {parsed.FormatErrorMessageFragment()}"));
        }

        return parsed.Value.FirstBeyondDepth(RuleLimits.MaxExpressionDepth) is { } tooDeep
            ? new(null, TooDeep(tooDeep.Span.Start))
            : new(parsed.Value, null);
    }

    private static ExpressionError? BeyondLimits(TokenList<ExpressionToken> tokens)
    {
        var count = 0;
        var brackets = 0;
        var prefixRun = 0;
        foreach (var token in tokens)
        {
            if (++count > RuleLimits.MaxExpressionTokens)
            {
                return new ExpressionError(token.Span.Position.Absolute,
                    $"expression too long: {tokens.Count()} tokens, at most {RuleLimits.MaxExpressionTokens}");
            }

            brackets += token.Kind switch
            {
                ExpressionToken.LeftParen or ExpressionToken.LeftBracket => 1,
                ExpressionToken.RightParen or ExpressionToken.RightBracket => -1,
                _ => 0,
            };
            var prefix = token.Kind == ExpressionToken.Minus || (token.Kind == ExpressionToken.Identifier && token.ToStringValue() == "not");
            prefixRun = prefix ? prefixRun + 1 : 0;
            if (brackets + prefixRun > RuleLimits.MaxExpressionDepth)
            {
                return TooDeep(token.Span.Position.Absolute);
            }
        }

        return null;
    }

    private static ExpressionError TooDeep(int offset) =>
        new(offset, $"expression nested too deeply: more than {RuleLimits.MaxExpressionDepth} levels");

    private static int OffsetOf(Position position, string text) => position.HasValue ? position.Absolute : text.Length;

    private static SourceSpan SpanOf(Token<ExpressionToken> token) => new(token.Span.Position.Absolute, token.Span.Length);

    private static TokenListParser<ExpressionToken, Token<ExpressionToken>> Keyword(string word) =>
        Token.EqualToValue(ExpressionToken.Identifier, word);

    private static TokenListParser<ExpressionToken, Token<ExpressionToken>> Symbol(ExpressionToken kind) => Token.EqualTo(kind);

    private static readonly TokenListParser<ExpressionToken, Token<ExpressionToken>> Name =
        Token.EqualTo(ExpressionToken.Identifier).Where(t => !Keywords.Contains(t.ToStringValue()), "name");

    private static readonly TokenListParser<ExpressionToken, Expr> Expression = Combinators.Ref(() => OrExpression!);

    private static readonly TokenListParser<ExpressionToken, Expr> NumberLiteralParser =
        Token.EqualTo(ExpressionToken.Number)
            .Select(t => (Expr)new NumberLiteral(double.Parse(t.ToStringValue(), CultureInfo.InvariantCulture), SpanOf(t)));

    private static readonly TokenListParser<ExpressionToken, DurationLiteral> DurationParser =
        Token.EqualTo(ExpressionToken.Duration).Select(t => new DurationLiteral(ParseDuration(t.ToStringValue()), SpanOf(t)));

    private static readonly TokenListParser<ExpressionToken, Expr> TimestampLiteralParser =
        Token.EqualTo(ExpressionToken.Timestamp)
            .Where(t => TryParseTimestamp(t.ToStringValue(), out _), "valid ISO-8601 timestamp")
            .Select(t =>
            {
                TryParseTimestamp(t.ToStringValue(), out var value);
                return (Expr)new TimestampLiteral(value, SpanOf(t));
            });

    private static readonly TokenListParser<ExpressionToken, Expr> StringLiteralParser =
        Token.EqualTo(ExpressionToken.String).Select(t => (Expr)new StringLiteral(Unquote(t.ToStringValue()), SpanOf(t)));

    private static readonly TokenListParser<ExpressionToken, Expr> KeywordLiteral =
        Keyword("true").Select(t => (Expr)new BoolLiteral(true, SpanOf(t)))
            .Or(Keyword("false").Select(t => (Expr)new BoolLiteral(false, SpanOf(t))))
            .Or(Keyword("now").Select(t => (Expr)new NowExpr(SpanOf(t))));

    private static readonly TokenListParser<ExpressionToken, Expr> Parenthesised =
        from open in Symbol(ExpressionToken.LeftParen)
        from inner in Expression
        from close in Symbol(ExpressionToken.RightParen)
        select inner with { Span = SourceSpan.Cover(SpanOf(open), SpanOf(close)) };

    private static readonly TokenListParser<ExpressionToken, Expr> NameBased =
        from name in Name
        from expr in NameTail(name)
        select expr;

    private static readonly TokenListParser<ExpressionToken, Expr> Primary =
        NumberLiteralParser
            .Or(DurationParser.Select(d => (Expr)d))
            .Or(TimestampLiteralParser)
            .Or(StringLiteralParser)
            .Or(KeywordLiteral)
            .Or(Parenthesised)
            .Or(NameBased);

    private static readonly TokenListParser<ExpressionToken, Expr> Unary =
        (from minus in Symbol(ExpressionToken.Minus)
         from operand in Combinators.Ref(() => Unary!)
         select operand is NumberLiteral number
             ? (Expr)new NumberLiteral(-number.Value, SourceSpan.Cover(SpanOf(minus), number.Span))
             : new Negate(operand, SourceSpan.Cover(SpanOf(minus), operand.Span)))
        .Or(Primary);

    private static readonly TokenListParser<ExpressionToken, BinaryOperator> MultiplicativeOperator =
        Symbol(ExpressionToken.Star).Value(BinaryOperator.Multiply)
            .Or(Symbol(ExpressionToken.Slash).Value(BinaryOperator.Divide));

    private static readonly TokenListParser<ExpressionToken, BinaryOperator> AdditiveOperator =
        Symbol(ExpressionToken.Plus).Value(BinaryOperator.Add)
            .Or(Symbol(ExpressionToken.Minus).Value(BinaryOperator.Subtract));

    private static readonly TokenListParser<ExpressionToken, BinaryOperator> ComparisonOperator =
        Symbol(ExpressionToken.Equal).Value(BinaryOperator.Equal)
            .Or(Symbol(ExpressionToken.NotEqual).Value(BinaryOperator.NotEqual))
            .Or(Symbol(ExpressionToken.LessOrEqual).Value(BinaryOperator.LessOrEqual))
            .Or(Symbol(ExpressionToken.Less).Value(BinaryOperator.Less))
            .Or(Symbol(ExpressionToken.GreaterOrEqual).Value(BinaryOperator.GreaterOrEqual))
            .Or(Symbol(ExpressionToken.Greater).Value(BinaryOperator.Greater));

    private static readonly TokenListParser<ExpressionToken, Expr> Multiplicative =
        Combinators.Chain(MultiplicativeOperator, Unary, MakeBinary);

    private static readonly TokenListParser<ExpressionToken, Expr> Additive =
        Combinators.Chain(AdditiveOperator, Multiplicative, MakeBinary);

    private static readonly TokenListParser<ExpressionToken, (IReadOnlyList<Expr> Items, Token<ExpressionToken> Close)> ListLiteral =
        from open in Symbol(ExpressionToken.LeftBracket)
        from items in Unary.ManyDelimitedBy(Symbol(ExpressionToken.Comma))
        from close in Symbol(ExpressionToken.RightBracket)
        select ((IReadOnlyList<Expr>)items, close);

    private static readonly TokenListParser<ExpressionToken, Expr> Comparison =
        from left in Additive
        from whole in ComparisonTail(left)
        select whole;

    private static readonly TokenListParser<ExpressionToken, Expr> NotExpression =
        (from keyword in Keyword("not")
         from operand in Combinators.Ref(() => NotExpression!)
         select (Expr)new Not(operand, SourceSpan.Cover(SpanOf(keyword), operand.Span)))
        .Or(Comparison);

    private static readonly TokenListParser<ExpressionToken, Expr> AndExpression =
        NotExpression.AtLeastOnceDelimitedBy(Keyword("and")).Select(operands => Balanced(LogicalOperator.And, operands, 0, operands.Length));

    private static readonly TokenListParser<ExpressionToken, Expr> OrExpression =
        AndExpression.AtLeastOnceDelimitedBy(Keyword("or")).Select(operands => Balanced(LogicalOperator.Or, operands, 0, operands.Length));

    private static readonly TokenListParser<ExpressionToken, Expr> WholeExpression = Expression.AtEnd();

    /// <summary>
    /// A chain of <c>and</c> (or <c>or</c>) as a balanced tree: the operators are associative, the operands keep their order
    /// (and so evaluation order), and a long chain costs its logarithm in depth rather than its length.
    /// </summary>
    private static Expr Balanced(LogicalOperator op, Expr[] operands, int start, int end)
    {
        if (end - start == 1)
        {
            return operands[start];
        }

        var middle = start + ((end - start + 1) / 2);
        var left = Balanced(op, operands, start, middle);
        var right = Balanced(op, operands, middle, end);
        return new Logical(op, left, right, SourceSpan.Cover(left.Span, right.Span));
    }

    private static Expr MakeBinary(BinaryOperator op, Expr left, Expr right) =>
        new Binary(op, left, right, SourceSpan.Cover(left.Span, right.Span));

    private static TokenListParser<ExpressionToken, Expr> ComparisonTail(Expr left)
    {
        var compare =
            from op in ComparisonOperator
            from right in Additive
            select MakeBinary(op, left, right);
        var inList =
            from keyword in Keyword("in")
            from list in ListLiteral
            select (Expr)new InList(left, list.Items, false, SourceSpan.Cover(left.Span, SpanOf(list.Close)));
        var notInList =
            from keyword in Keyword("not")
            from inKeyword in Keyword("in")
            from list in ListLiteral
            select (Expr)new InList(left, list.Items, true, SourceSpan.Cover(left.Span, SpanOf(list.Close)));
        var isNull =
            from keyword in Keyword("is")
            from negation in Keyword("not").OptionalOrDefault()
            from nullKeyword in Keyword("null")
            select (Expr)new IsNull(left, negation.HasValue, SourceSpan.Cover(left.Span, SpanOf(nullKeyword)));
        return compare.Or(inList).Or(notInList).Or(isNull).Or(Combinators.Return<ExpressionToken, Expr>(left));
    }

    private static TokenListParser<ExpressionToken, Expr> NameTail(Token<ExpressionToken> nameToken)
    {
        var name = nameToken.ToStringValue();
        var nameSpan = SpanOf(nameToken);
        if (AggregateFunctions.TryGetValue(name, out var kind))
        {
            return Symbol(ExpressionToken.LeftParen).IgnoreThen(AggregateBody(kind, nameSpan));
        }

        if (name is "days_since" or "hours_since")
        {
            var unit = name == "days_since" ? SinceUnit.Days : SinceUnit.Hours;
            return from open in Symbol(ExpressionToken.LeftParen)
                   from time in Expression
                   from close in Symbol(ExpressionToken.RightParen)
                   select (Expr)new Since(unit, time, SourceSpan.Cover(nameSpan, SpanOf(close)));
        }

        var property =
            from dot in Symbol(ExpressionToken.Dot)
            from member in Name
            select (Expr)new EventPropertyRef(name, member.ToStringValue(), SourceSpan.Cover(nameSpan, SpanOf(member)));

        return input =>
        {
            var next = input.ConsumeToken();
            if (next.HasValue && next.Value.Kind == ExpressionToken.Dot)
            {
                return property(input);
            }

            if (next.HasValue && next.Value.Kind == ExpressionToken.LeftParen)
            {
                return TokenListParserResult.Empty<ExpressionToken, Expr>(
                    input, nameToken.Span.Position, $"unknown function `{name}`, expected one of {FunctionList}");
            }

            return TokenListParserResult.Value<ExpressionToken, Expr>(new NameRef(name, nameSpan), input, input);
        };
    }

    private static TokenListParser<ExpressionToken, Expr> AggregateBody(AggregateKind kind, SourceSpan nameSpan) =>
        from eventType in Name.Named("event type")
        from property in Symbol(ExpressionToken.Dot).IgnoreThen(Name.Named("property name")).OptionalOrDefault()
        from filter in Keyword("where").IgnoreThen(Expression).Select(e => (Expr?)e).OptionalOrDefault()
        from window in Symbol(ExpressionToken.Comma).IgnoreThen(DurationParser.Named("window duration such as 30d")).Select(d => (DurationLiteral?)d).OptionalOrDefault()
        from close in Symbol(ExpressionToken.RightParen)
        select (Expr)new EventAggregate(
            kind,
            eventType.ToStringValue(),
            property.HasValue ? property.ToStringValue() : null,
            filter,
            window,
            SourceSpan.Cover(nameSpan, SpanOf(close)));

    internal static TimeSpan ParseDuration(string text)
    {
        var amount = double.Parse(text.AsSpan(0, text.Length - 1), CultureInfo.InvariantCulture);
        return text[^1] switch
        {
            'd' => TimeSpan.FromDays(amount),
            'h' => TimeSpan.FromHours(amount),
            _ => TimeSpan.FromMinutes(amount),
        };
    }

    internal static bool TryParseTimestamp(string text, out DateTimeOffset value) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value);

    private static string Unquote(string token)
    {
        var body = token[1..^1];
        return token[0] == '"' ? body.Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal) : body;
    }
}
