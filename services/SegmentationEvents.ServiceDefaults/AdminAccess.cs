using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace SegmentationEvents.ServiceDefaults;

/// <summary>
/// Who may use a service's admin endpoints. Operators hold named keys (<c>Admin:Keys:NAME=secret</c>) and present the
/// secret in <c>X-Api-Key</c>; the key's name is who did it. Writes always need a key, also from loopback, because behind a
/// reverse proxy every caller is loopback. Reads without a key are served only to loopback and only where
/// <c>Admin:OpenLoopbackReads</c> is true (a developer machine, the demo).
/// </summary>
public sealed class AdminAccess
{
    public const string ApiKeyHeader = "X-Api-Key";

    private const string AuthenticationType = "AdminKey";

    private readonly (string Name, byte[] SecretHash)[] keys;

    private readonly bool openLoopbackReads;

    public AdminAccess(IReadOnlyDictionary<string, string> keys, bool openLoopbackReads)
    {
        this.keys = [.. keys.Where(k => !string.IsNullOrEmpty(k.Value)).Select(k => (k.Key, Hash(k.Value)))];
        this.openLoopbackReads = openLoopbackReads;
    }

    public static AdminAccess FromConfiguration(IConfiguration configuration) => new(
        configuration.GetSection("Admin:Keys").GetChildren().ToDictionary(k => k.Key, k => k.Value ?? string.Empty, StringComparer.Ordinal),
        configuration.GetValue("Admin:OpenLoopbackReads", false));

    public bool HasKeys => keys.Length > 0;

    /// <summary>The name of the key whose secret was presented, or null. Every configured key is compared, each in constant time.</summary>
    public string? KeyName(string? presented)
    {
        if (string.IsNullOrEmpty(presented))
        {
            return null;
        }

        var presentedHash = Hash(presented);
        string? match = null;
        foreach (var (name, secretHash) in keys)
        {
            if (CryptographicOperations.FixedTimeEquals(presentedHash, secretHash))
            {
                match ??= name;
            }
        }

        return match;
    }

    /// <summary>Whether a request may proceed, as which operator when it presented a key, and else why not.</summary>
    public AccessDecision Decide(string method, IPAddress? remote, string? presentedKey)
    {
        if (KeyName(presentedKey) is { } operatorName)
        {
            return new AccessDecision(true, operatorName, null);
        }

        if (!string.IsNullOrEmpty(presentedKey))
        {
            return new AccessDecision(false, null, $"the key presented in {ApiKeyHeader} is not a configured admin key");
        }

        var isRead = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        if (!isRead)
        {
            return new AccessDecision(false, null, HasKeys
                ? $"changes need an admin key in {ApiKeyHeader}"
                : "changes need an admin key, and this service has none configured (set Admin:Keys:NAME=secret)");
        }

        var fromLoopback = remote is not null && IPAddress.IsLoopback(remote);
        return fromLoopback && openLoopbackReads
            ? new AccessDecision(true, null, null)
            : new AccessDecision(false, null, openLoopbackReads
                ? $"reads without a key are served to loopback only; present an admin key in {ApiKeyHeader}"
                : $"present an admin key in {ApiKeyHeader}");
    }

    /// <summary>An endpoint filter applying <see cref="Decide"/>; an accepted key becomes the request's user, named as the key.</summary>
    public async ValueTask<object?> Filter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var decision = Decide(http.Request.Method, http.Connection.RemoteIpAddress, http.Request.Headers[ApiKeyHeader].FirstOrDefault());
        if (!decision.Allowed)
        {
            return Results.Json(new { error = decision.Refusal }, statusCode: StatusCodes.Status401Unauthorized);
        }

        if (decision.Operator is { } name)
        {
            http.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, name)], AuthenticationType));
        }

        return await next(context);
    }

    /// <summary>The operator a write is recorded under: the name of the key that authorised it.</summary>
    public static string OperatorOf(HttpContext context) =>
        context.User.Identity is { AuthenticationType: AuthenticationType, Name: { } name } ? name
            : throw new InvalidOperationException("a write reached its handler without an admin key; the access filter is missing");

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));
}

public readonly record struct AccessDecision(bool Allowed, string? Operator, string? Refusal);

public static class RequestBodyLimit
{
    public const long DefaultMaxBytes = 1024 * 1024;

    /// <summary>
    /// Refuses request bodies over <c>Admin:MaxRequestBodyBytes</c> (default 1 MiB) with 413 and a message saying the limit:
    /// at once when the declared length is over it, and as soon as a streamed body crosses it.
    /// </summary>
    public static IApplicationBuilder UseRequestBodyLimit(this IApplicationBuilder app, IConfiguration configuration)
    {
        var limit = configuration.GetValue("Admin:MaxRequestBodyBytes", DefaultMaxBytes);
        return app.Use(async (context, next) =>
        {
            if (context.Request.ContentLength > limit)
            {
                await TooLarge(context, limit);
                return;
            }

            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
            {
                feature.MaxRequestBodySize = limit;
            }

            try
            {
                await next(context);
            }
            catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge && !context.Response.HasStarted)
            {
                await TooLarge(context, limit);
            }
        });
    }

    private static Task TooLarge(HttpContext context, long limit) =>
        Results.Json(new { error = $"request body too large: at most {limit} bytes (Admin:MaxRequestBodyBytes)" },
            statusCode: StatusCodes.Status413PayloadTooLarge).ExecuteAsync(context);
}

public static class AdminAccessRegistration
{
    /// <summary>Registers <see cref="AdminAccess"/> from the <c>Admin</c> configuration section.</summary>
    public static IServiceCollection AddAdminAccess(this IServiceCollection services, IConfiguration configuration) =>
        services.AddSingleton(AdminAccess.FromConfiguration(configuration));
}
