using Npgsql;

namespace Segmentation.Service.Admin;

/// <summary>
/// An admin request that cannot reach PostgreSQL gets 503 with the reason, so the console and segctl can say the
/// database is down rather than show an empty 500.
/// </summary>
public static class DatabaseUnavailable
{
    public static async ValueTask<object?> Filter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (Exception e) when (Npgsql(e) is { } database && !context.HttpContext.RequestAborted.IsCancellationRequested)
        {
            return Results.Json(new { error = $"the service's database does not answer: {database.Message}" },
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    private static NpgsqlException? Npgsql(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is NpgsqlException npgsql and not PostgresException) return npgsql;
        }

        return null;
    }
}
